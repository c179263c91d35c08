'use strict';
// One-off requests from the harness (not load: that is autocannon's job in its own process).
const http = require('node:http');

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** GET url, resolve the parsed JSON body (rejects on non-2xx, bad JSON or timeoutMs). */
function getJson(url, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        if (res.statusCode < 200 || res.statusCode > 299) return reject(new Error(`GET ${url}: ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function closeIdle() {
  agent.destroy();
}

module.exports = { getJson, closeIdle };
