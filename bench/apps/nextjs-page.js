'use strict';
// A Next.js page (the test fixture's /ok, a server-rendered page on every request), served by
// Next's production server in this process. The fixture must be built (`next build`); the nextjs
// scenario does that first.
const http = require('node:http');
const { join } = require('node:path');
const next = require('next');

const app = next({ dir: join(__dirname, '..', '..', 'test', 'fixtures', 'nextjs'), dev: false, quiet: true });
app.prepare().then(() => {
  const handle = app.getRequestHandler();
  const server = http.createServer((req, res) => handle(req, res));
  server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
});
