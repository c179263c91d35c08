/**
 * The agent worker's entry: owns the transport (and, as they land, the inspector session and
 * breakpoints). Started by src/main/agent.ts with execArgv [] and without our preload.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log';
import { SHARED, type MainToWorker, type WorkerData, type WorkerToMain } from '../shared/messages';
import { startBreakpoints } from './breakpoints';
import { toExceptionPayload } from './event-payload';
import { openSession, type InspectorSession } from './inspector/session';
import { createTransport } from './transport';

const data = workerData as WorkerData;
const { config, agentId } = data;
const logger = createLogger(config.debug);
const flags = new Int32Array(data.shared);
const cwd = process.cwd();

const transport = createTransport({
  config,
  logger,
  agentId,
  agentVersion: data.agentVersion,
  handlers: {
    onMessage(frame) {
      if (frame.type === 'set_breakpoint') breakpoints.set(frame.payload);
      else if (frame.type === 'remove_breakpoint') breakpoints.remove(frame.payload);
      else logger.debug(`backend message ${frame.type} not handled yet`);
    },
  },
});

// The one inspector session, opened on first use (TODO #7: share with the exception capture's session).
let session: Promise<InspectorSession> | undefined;
let sessionHandle: InspectorSession | undefined;
const getSession = (): Promise<InspectorSession> =>
  (session ??= openSession(logger).then((s) => (sessionHandle = s)));

const breakpoints = startBreakpoints({ config, logger, agentId, send: (type, payload) => transport.send(type, payload), getSession });

function reply(msg: WorkerToMain): void {
  parentPort?.postMessage(msg);
}

parentPort?.on('message', (msg: MainToWorker) => {
  switch (msg.kind) {
    case 'exception':
      transport.send('exception', toExceptionPayload(msg.event, config, agentId, cwd));
      break;
    case 'flush':
      void transport.flush(msg.timeoutMs).then((ok) => reply({ kind: 'flushed', requestId: msg.requestId, ok }));
      break;
    case 'shutdown':
      void breakpoints.close().finally(() => sessionHandle?.disconnect());
      void transport.close(msg.timeoutMs).then(() => reply({ kind: 'flushed', requestId: msg.requestId, ok: true }));
      break;
    case 'exit':
      // Detach first: an attached session at exit makes Node print "Waiting for the debugger to disconnect...".
      sessionHandle?.disconnect();
      void transport.flush(msg.timeoutMs).finally(() => {
        Atomics.store(flags, SHARED.exitDone, 1);
        Atomics.notify(flags, SHARED.exitDone);
      });
      break;
  }
});
