'use strict';
// express 5 hello world.
const express = require('express');

const app = express();
app.get('/', (req, res) => {
  res.send('Hello World!');
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
