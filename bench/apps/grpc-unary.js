'use strict';
// A @grpc/grpc-js server with one unary method (JSON messages, no .proto): the gRPC hello world.
const grpc = require('@grpc/grpc-js');
const { GreeterService } = require('./lib/greeter-service');

const server = new grpc.Server();
server.addService(GreeterService, {
  Hello(call, callback) {
    callback(null, { message: `Hello ${call.request.name}!` });
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`listening ${port}`);
});
