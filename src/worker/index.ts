/**
 * The agent worker's entry: owns the transport (and, as they land, the inspector session and
 * breakpoints). Started by src/main/agent.ts with execArgv [] and without our preload.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log';
import { SHARED, type MainToWorker, type WorkerData, type WorkerToMain } from '../shared/messages';
import { createExceptionEvents } from './events/exception-events';
import { startAgentInspector } from './inspector';
import { createTransport } from './transport';

const data = workerData as WorkerData;
const { config, agentId } = data;
const logger = createLogger(config.debug);
const flags = new Int32Array(data.shared);
const cwd = process.cwd();
const exceptionEvents = createExceptionEvents(config, agentId, cwd);
const agentInspector = startAgentInspector({ config, logger, flags, userInspector: data.userInspector === true });

const transport = createTransport({
  config,
  logger,
  agentId,
  agentVersion: data.agentVersion,
  handlers: {
    onMessage(frame) {
      logger.debug(`backend message ${frame.type} not handled yet`);
    },
  },
});

function reply(msg: WorkerToMain): void {
  parentPort?.postMessage(msg);
}

parentPort?.on('message', (msg: MainToWorker) => {
  switch (msg.kind) {
    case 'exception': {
      const payload = exceptionEvents.toPayload(msg.event);
      if (payload) transport.send('exception', payload);
      break;
    }
    case 'flush':
      void transport.flush(msg.timeoutMs).then((ok) => reply({ kind: 'flushed', requestId: msg.requestId, ok }));
      break;
    case 'shutdown':
      agentInspector.stop();
      void transport.close(msg.timeoutMs).then(() => reply({ kind: 'flushed', requestId: msg.requestId, ok: true }));
      break;
    case 'exit':
      // Detach first: the app's thread is exiting, and a session still attached makes Node print
      // "Waiting for the debugger to disconnect...".
      agentInspector.stop();
      void transport.flushForExit(msg.timeoutMs).finally(() => {
        Atomics.store(flags, SHARED.exitDone, 1);
        Atomics.notify(flags, SHARED.exitDone);
      });
      break;
  }
});
