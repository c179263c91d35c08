import { randomBytes, randomUUID } from 'node:crypto';

/** `agent-<ms timestamp in hex>-<8 random hex>`, fixed for the life of a process. */
export function createAgentId(now: number = Date.now()): string {
  return `agent-${now.toString(16)}-${randomBytes(4).toString('hex')}`;
}

export function createEventId(): string {
  return randomUUID();
}
