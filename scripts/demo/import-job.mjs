// A batch job the demo app runs as a child process with a small heap (--max-old-space-size=32): it
// imports rows into an in-memory index that nothing ever trims, until the JavaScript heap is full.
// The agent reports the heap at its limit (with the locals of the code that was importing), then
// Node ends the job with "JavaScript heap out of memory", as it would without the agent.
const index = new Map();

function makeRow(batch, n) {
  return { id: `${batch}-${n}`, batch, note: `imported row ${n} of batch ${batch}` };
}

function indexBatch(batch, size) {
  for (let n = 0; n < size; n++) {
    const row = makeRow(batch, n);
    index.set(row.id, row);
  }
  return index.size;
}

function importAll(size) {
  // the source never runs dry: batch after batch, each kept for good
  for (let batch = 1; ; batch++) indexBatch(batch, size);
}

// started once the agent's inspector has attached (see report-job.mjs)
setTimeout(importAll, 500, 5000);
