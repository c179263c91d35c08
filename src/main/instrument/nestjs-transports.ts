import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { errorStatus, firstSightings, inheritsFromClassNamed, isObject } from './error-status';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * NestJS microservices and WebSocket gateways. Nest catches what a message handler (`@MessagePattern`,
 * `@EventPattern`) or a gateway handler (`@SubscribeMessage`) throws, answers the caller itself
 * and logs the error: nothing reaches the process. Each handler gets an exceptions handler
 * (`RpcExceptionsHandler`, `WsExceptionsHandler`) whose `handle(exception, host)` runs the app's
 * filters, else Nest's base filter. That method is wrapped: it runs only once an error exists.
 *
 * Unlike HTTP there is no status to tell an answer from a failure, so the error's class decides:
 * an `RpcException`, `WsException` or gRPC exception (and their subclasses) is the answer the
 * handler chose, and so is an error carrying a 4xx status (Nest's `NotFoundException`); anything
 * else is reported, with the message pattern it was handling.
 */

type NestTransport = 'rpc' | 'ws';

const firstReport = firstSightings();
const ANSWERS = ['RpcException', 'WsException', 'GrpcException'];
const MAX_PATTERN = 200;

/**
 * Where each microservice transport's context keeps the pattern (or topic, subject, channel) a
 * message came with: the index in its own `args` array, as its getter reads it.
 */
const PATTERN_INDEX: Readonly<Record<string, number>> = {
  TcpContext: 1,
  RmqContext: 2,
  KafkaContext: 2,
  NatsContext: 0,
  RedisContext: 0,
  MqttContext: 0,
};

/** The name of the class an object was made by, read without getters. */
function className(obj: unknown): string | undefined {
  try {
    const proto = isObject(obj) ? Object.getPrototypeOf(obj) : undefined;
    const name = ownData(ownData(proto, 'constructor'), 'name');
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_PATTERN) : undefined;
}

/**
 * The pattern of the message being handled. A gateway's host holds the handler's arguments with
 * the pattern last; a microservice's holds `[data, context]`, its context the transport's own.
 */
function patternOf(transport: NestTransport, host: unknown): string | undefined {
  const args = ownData(host, 'args');
  if (!Array.isArray(args) || args.length === 0) return undefined;
  if (transport === 'ws') return text(args[args.length - 1]);
  const context: unknown = args[1];
  const index = PATTERN_INDEX[className(context) ?? ''];
  if (index === undefined) return undefined;
  const own = ownData(context, 'args');
  return Array.isArray(own) ? text(own[index]) : undefined;
}

function report(transport: NestTransport, exception: unknown, host: unknown): void {
  try {
    if (!isObject(exception)) {
      if (exception === undefined || exception === null) return;
    } else if (ANSWERS.some((name) => inheritsFromClassNamed(exception, name))) {
      return;
    }
    const status = errorStatus(exception);
    if (status !== undefined && status < 500) return;
    if (!firstReport(exception)) return;
    const nestjs: Record<string, string> = { type: transport };
    const pattern = patternOf(transport, host);
    if (pattern !== undefined) nestjs.pattern = pattern;
    reportError(exception, 'nestjs', { nestjs });
  } catch {
    // never throw into Nest's error path
  }
}

/** Wraps `handle` on the prototype of Nest's RpcExceptionsHandler or WsExceptionsHandler class. */
export function patchTransportExceptionsHandler(cls: unknown, transport: NestTransport): boolean {
  const proto = ownData(cls, 'prototype');
  if (!isObject(proto)) return false;
  return wrapMethod(proto, 'handle', (original) => ({
    handle(this: unknown, exception: unknown, host: unknown): unknown {
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        report(transport, exception, host);
      }
    },
  }).handle);
}

export function unpatchTransportExceptionsHandler(cls: unknown): void {
  const proto = ownData(cls, 'prototype');
  if (isObject(proto)) unwrapMethod(proto, 'handle');
}
