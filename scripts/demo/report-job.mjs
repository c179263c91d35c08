// A small batch job the demo app runs as a child process: it sums sales rows as they come in.
// The third row is broken, so the job dies with an uncaught SyntaxError: the agent reports the
// crash (with the locals of processNext) and Node still prints it and exits with code 1.
const rows = ['{"region":"north","total":1200}', '{"region":"south","total":950}', '{"region":"east","total":]'];
const totals = {};
let index = 0;

function processNext() {
  const raw = rows[index++];
  const row = JSON.parse(raw);
  totals[row.region] = row.total;
  // the next row "arrives" a little later, as it would from a queue or a slow API (by the broken
  // one, the agent's inspector has attached: errors in a process's first ~0.5 s have no locals)
  if (index < rows.length) setTimeout(processNext, 500);
  else process.stdout.write(`report: ${JSON.stringify(totals)}\n`);
}

setTimeout(processNext, 500);
