/**
 * The Cloud Run v2 messages as @grpc/proto-loader hands them to us (camelCase fields, enums as
 * strings, int64 as strings, proto3 defaults left out: a 0 percent or an unset enum is `undefined`).
 * Only the fields the emulator reads or writes are spelled out; the rest pass through untouched.
 */
import { GRPC_CODE } from '../grpc-codes.js';

export interface Timestamp {
  seconds: string;
  nanos: number;
}

export interface Duration {
  seconds?: string | number;
  nanos?: number;
}

export type ConditionState =
  | 'STATE_UNSPECIFIED'
  | 'CONDITION_PENDING'
  | 'CONDITION_RECONCILING'
  | 'CONDITION_FAILED'
  | 'CONDITION_SUCCEEDED';

export interface Condition {
  type: string;
  state: ConditionState;
  message?: string;
  lastTransitionTime?: Timestamp;
  severity?: 'SEVERITY_UNSPECIFIED' | 'ERROR' | 'WARNING' | 'INFO';
  /** google.cloud.run.v2.Condition.CommonReason */
  reason?: string;
  /** google.cloud.run.v2.Condition.RevisionReason */
  revisionReason?: string;
}

export const ALLOCATION_LATEST = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST';
export const ALLOCATION_REVISION = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';

export interface TrafficTarget {
  type?: string;
  revision?: string;
  percent?: number;
  tag?: string;
}

export interface TrafficTargetStatus extends TrafficTarget {
  uri?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueSource?: { secretKeyRef?: { secret: string; version?: string } };
}

export interface Container {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort?: number }>;
  [field: string]: unknown;
}

export interface RevisionTemplate {
  revision?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  scaling?: { minInstanceCount?: number; maxInstanceCount?: number };
  timeout?: Duration;
  serviceAccount?: string;
  containers?: Container[];
  maxInstanceRequestConcurrency?: number;
  [field: string]: unknown;
}

export interface Service {
  name?: string;
  description?: string;
  uid?: string;
  generation?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  createTime?: Timestamp;
  updateTime?: Timestamp;
  deleteTime?: Timestamp;
  creator?: string;
  lastModifier?: string;
  ingress?: string;
  template?: RevisionTemplate;
  traffic?: TrafficTarget[];
  observedGeneration?: string;
  terminalCondition?: Condition;
  conditions?: Condition[];
  latestReadyRevision?: string;
  latestCreatedRevision?: string;
  trafficStatuses?: TrafficTargetStatus[];
  uri?: string;
  urls?: string[];
  reconciling?: boolean;
  etag?: string;
  [field: string]: unknown;
}

export interface Revision {
  name: string;
  uid: string;
  generation: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  createTime: Timestamp;
  updateTime?: Timestamp;
  deleteTime?: Timestamp;
  service: string;
  scaling?: RevisionTemplate['scaling'];
  maxInstanceRequestConcurrency?: number;
  timeout?: Duration;
  serviceAccount?: string;
  containers?: Container[];
  reconciling: boolean;
  conditions: Condition[];
  observedGeneration: string;
  logUri?: string;
  etag: string;
  [field: string]: unknown;
}

/** google.protobuf.Any in proto-loader's JSON form: the `@type` key selects the message type. */
export type AnyMessage = { '@type': string } & Record<string, unknown>;

export interface Operation {
  name: string;
  done: boolean;
  metadata?: AnyMessage;
  response?: AnyMessage;
  error?: { code: number; message: string };
}

export const SERVICE_TYPE = 'type.googleapis.com/google.cloud.run.v2.Service';
export const REVISION_TYPE = 'type.googleapis.com/google.cloud.run.v2.Revision';

/** A failure the API reports to the caller: a gRPC status code and Cloud Run's wording. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The gRPC status codes the emulator uses (google.rpc.Code). */
export const Code = GRPC_CODE;

export function timestamp(ms: number = Date.now()): Timestamp {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}
