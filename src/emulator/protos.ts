/**
 * Loads the Cloud Run Admin API v2 and google.longrunning protos from the copies the client library
 * ships, so the emulator speaks exactly the wire format the installed @google-cloud/run expects.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface RunProtos {
  services: grpc.ServiceDefinition;
  revisions: grpc.ServiceDefinition;
  operations: grpc.ServiceDefinition;
  /** google.logging.v2.LoggingServiceV2, from the protos @google-cloud/logging ships. */
  logging: grpc.ServiceDefinition;
}

/** Folders holding `google/logging/v2/*.proto` (from @google-cloud/logging-api) and its common protos. */
export function loggingProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const loggingMain = require.resolve('@google-cloud/logging');
  const apiMain = createRequire(loggingMain).resolve('@google-cloud/logging-api');
  const apiRoot = path.resolve(path.dirname(apiMain), '..', '..');
  const gaxMain = createRequire(apiMain).resolve('google-gax');
  return [path.join(apiRoot, 'build', 'protos'), path.resolve(path.dirname(gaxMain), '..', 'protos')];
}

let cached: RunProtos | undefined;

/** Folders holding `google/cloud/run/v2/*.proto` and the common google protos. */
export function protoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const runMain = require.resolve('@google-cloud/run');
  // build/src/index.js → package root.
  const runRoot = path.resolve(path.dirname(runMain), '..', '..');
  // google-gax's `exports` map hides its package.json: resolve its main entry from the client's
  // point of view (the copy the client really uses) and walk to build/protos.
  const gaxMain = createRequire(runMain).resolve('google-gax');
  return [path.join(runRoot, 'build', 'protos'), path.resolve(path.dirname(gaxMain), '..', 'protos')];
}

export function loadRunProtos(): RunProtos {
  if (cached) return cached;
  const def = protoLoader.loadSync(
    ['google/cloud/run/v2/service.proto', 'google/cloud/run/v2/revision.proto', 'google/longrunning/operations.proto'],
    {
      includeDirs: protoIncludeDirs(),
      keepCase: false,
      longs: String,
      enums: String,
      defaults: false,
      // No virtual oneof-name properties: stored objects are echoed back as they came in.
      oneofs: false,
    },
  );
  const pick = (name: string): grpc.ServiceDefinition => {
    const svc = def[name];
    // Message types carry a `format` field; services are maps of methods.
    if (!svc || 'format' in svc) throw new Error(`proto service ${name} not found`);
    return svc as grpc.ServiceDefinition;
  };
  const logDef = protoLoader.loadSync(['google/logging/v2/logging.proto'], {
    includeDirs: loggingProtoIncludeDirs(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: false,
  });
  const logging = logDef['google.logging.v2.LoggingServiceV2'];
  if (!logging || 'format' in logging) throw new Error('proto service google.logging.v2.LoggingServiceV2 not found');
  cached = {
    services: pick('google.cloud.run.v2.Services'),
    revisions: pick('google.cloud.run.v2.Revisions'),
    operations: pick('google.longrunning.Operations'),
    logging: logging as grpc.ServiceDefinition,
  };
  return cached;
}
