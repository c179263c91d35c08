'use strict';
// koa 3 hello world, routed by @koa/router (the route is what the agent reads on events).
const Koa = require('koa');
const Router = require('@koa/router');

const app = new Koa();
const router = new Router();
router.get('/', (ctx) => {
  ctx.body = 'Hello World!';
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
