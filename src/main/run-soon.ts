import type { MessagePort } from 'node:worker_threads';
import { requestStorage } from './context/store';

/**
 * Runs agent work (turning a breakpoint hit into its message, reporting an error behind a 5xx
 * answer) once the current callback is over, as an event-loop callback of its own: a message the
 * app's thread posts to itself. Not setImmediate or setTimeout: an agent callback in the app's
 * immediate or timer queue makes Node run the app's microtasks from JavaScript between two
 * callbacks (`runNextTicks`), and those frames then show in the stacks of the app's own errors.
 * The port keeps the process alive only while work is pending, as an immediate would.
 * `node:worker_threads` is loaded with the first such work: with the streams it needs, it is
 * milliseconds of start-up (about 9 ms of `node -e 0` on Node 24 here).
 */

let port: MessagePort | undefined;
let receiver: MessagePort | undefined;
let pending: Array<() => void> = [];

function drain(): void {
  const work = pending;
  pending = [];
  receiver?.unref();
  for (const fn of work) {
    try {
      fn();
    } catch {
      // agent work never throws into the app's loop
    }
  }
}

export function runSoon(fn: () => void): void {
  pending.push(fn);
  if (pending.length > 1) return;
  if (port === undefined || receiver === undefined) {
    const { MessageChannel } = require('node:worker_threads') as typeof import('node:worker_threads');
    // Made outside any request's scope: the port's callbacks run in the scope it was made in.
    const channel = requestStorage.exit(() => new MessageChannel());
    receiver = channel.port1;
    receiver.on('message', drain);
    port = channel.port2;
  }
  receiver.ref();
  port.postMessage(0);
}
