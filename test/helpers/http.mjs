// Plain HTTP requests to a fixture app, for tests.
import http from 'node:http';

/**
 * GET http://127.0.0.1:<port><path> on a connection of its own (a kept-alive one may be closed by
 * the app's server as it is reused): { status, body }.
 */
export function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}
