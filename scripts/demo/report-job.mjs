// A small batch job the demo app runs as a child process. Its config is broken, so it dies with an
// uncaught SyntaxError: the agent reports the crash (with locals) and Node still exits with code 1.
const source = '{ "template": "monthly", "recipients": [ "ops@example.com", ] }';

function loadConfig(text) {
  const attempt = 1;
  return JSON.parse(text);
}

const config = loadConfig(source);
process.stdout.write(`report ${config.template} sent\n`);
