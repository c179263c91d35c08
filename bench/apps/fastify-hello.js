'use strict';
// fastify 5 hello world.
const fastify = require('fastify')({ logger: false });

fastify.get('/', async () => 'Hello World!');
fastify.listen({ port: 0, host: '127.0.0.1' }).then(() => console.log(`listening ${fastify.server.address().port}`));
