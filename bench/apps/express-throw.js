'use strict';
// express 5: a route that throws on every request; the app's error handler answers 500.
// /__rss reports the process's memory for the memory scenario.
const express = require('express');

const app = express();
app.get('/__rss', (req, res) => {
  res.json(process.memoryUsage());
});
app.get('/', (req, res) => {
  const order = { id: 42, items: ['a', 'b'], total: 99.5 };
  throw new Error(`cannot ship order ${order.id}`);
});
app.use((err, req, res, next) => {
  res.status(500).send('Something broke');
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
