'use strict';
// node:http POST hello: reads a small JSON body with the request's own 'data' and 'end' events.
const http = require('node:http');

const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Hello ${JSON.parse(body).name}!`);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
