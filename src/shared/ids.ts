/** `agent-<ms timestamp in hex>-<8 random hex>`, fixed for the life of a process. */
export function createAgentId(now: number = Date.now()): string {
  // Math.random, not node:crypto: loading crypto would add to every process's start-up, and the id
  // only has to differ between agents started in the same millisecond.
  const suffix = Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return `agent-${now.toString(16)}-${suffix}`;
}

let crypto: typeof import('node:crypto') | undefined;

export function createEventId(): string {
  crypto ??= require('node:crypto') as typeof import('node:crypto');
  return crypto.randomUUID();
}
