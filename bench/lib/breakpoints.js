'use strict';
// Setting breakpoints on a bench app through the recording backend, and knowing whether they took.
const { readFileSync } = require('node:fs');
const { randomUUID } = require('node:crypto');

/** 1-based line of `// BREAKPOINT <name>` in file. */
function markerLine(file, name) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`// BREAKPOINT ${name}`));
  if (i < 0) throw new Error(`no "// BREAKPOINT ${name}" marker in ${file}`);
  return i + 1;
}

/** Waits for the first `register` after `since` (epoch ms) and returns the agent id, or null. */
async function waitForAgent(recorder, since, timeoutMs = 15000) {
  try {
    const e = await recorder.waitFor((ev) => ev.type === 'register' && ev.at >= since, timeoutMs);
    return e.agentId;
  } catch {
    return null;
  }
}

/**
 * Sends set_breakpoint and waits for its `installed` status. Resolves { id, status } where status is
 * the status event's payload, or null when the agent said nothing in time (no breakpoint support).
 */
async function setBreakpoint(recorder, agentId, { file, line, maxHits = 1, condition }, timeoutMs = 5000) {
  const id = `bench-${randomUUID()}`;
  const settled = recorder.waitFor(
    (e) => e.type === 'breakpoint_status' && e.payload?.breakpoint_id === id && e.payload?.status !== 'received' && e.payload?.status !== 'pending',
    timeoutMs,
  ).then((e) => e.payload, () => null);
  const payload = { id, file_path: file, line_number: line, max_hits: maxHits };
  if (condition) payload.condition = condition;
  if (!recorder.send(agentId, 'set_breakpoint', payload)) return { id, status: null };
  return { id, status: await settled };
}

function removeBreakpoint(recorder, agentId, id) {
  recorder.send(agentId, 'remove_breakpoint', { id });
}

const NOT_AVAILABLE = 'n/a (breakpoints not available)';

module.exports = { markerLine, waitForAgent, setBreakpoint, removeBreakpoint, NOT_AVAILABLE };
