'use strict';
// Hono 4 hello world on @hono/node-server (CommonJS build; the agent reads Hono's route on events).
const { Hono } = require('hono');
const { serve } = require('@hono/node-server');

const app = new Hono();
app.get('/', (c) => c.text('Hello World!'));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => console.log(`listening ${info.port}`));
