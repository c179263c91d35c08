'use strict';
// The service of the gRPC bench app and its load generator: one unary method, JSON messages.
const json = {
  serialize: (value) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes) => JSON.parse(String(bytes)),
};

const GreeterService = {
  Hello: {
    path: '/bench.Greeter/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

module.exports = { GreeterService };
