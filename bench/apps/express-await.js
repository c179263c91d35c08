'use strict';
// express 5 route that awaits 20 times per request, as a handler calling a data layer does
// (each "row" is an async function that awaits once).
const express = require('express');

async function loadRow(id) {
  await null;
  return { id };
}

async function loadRows(count) {
  const rows = [];
  for (let i = 0; i < count; i++) rows.push(await loadRow(i));
  return rows;
}

// Never called: the bp-await scenario sets a breakpoint here, so that only the debugger costs.
function neverCalled() {
  return 'cold'; // BREAKPOINT cold
}

const app = express();
app.get('/', async (req, res) => {
  const rows = await loadRows(20);
  res.send(`rows ${rows.length}`);
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
