import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestStorage } from '../context/store';
import type { ChannelInstrumentation } from './types';

const CHANNEL = 'http.server.request.start';

interface RequestStart {
  request: IncomingMessage;
  response: ServerResponse;
}

/**
 * Node publishes this right before `server.emit('request')` (http and https). Entering the store
 * here gives the handler and everything it starts the request's scope, without wrapping `emit`:
 * a wrapper would add stack frames to every error a handler throws, and express prints those.
 */
function onRequestStart(message: unknown): void {
  const { request, response } = message as RequestStart;
  requestStorage.enterWith({ req: request, res: response });
}

export const httpInstrumentation: ChannelInstrumentation = {
  name: 'http',
  versions: '*',
  patch() {
    diagnosticsChannel.subscribe(CHANNEL, onRequestStart);
  },
  unpatch() {
    diagnosticsChannel.unsubscribe(CHANNEL, onRequestStart);
  },
};
