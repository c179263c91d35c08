'use strict';
// node:http hello world.
const http = require('node:http');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('Hello World!');
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
