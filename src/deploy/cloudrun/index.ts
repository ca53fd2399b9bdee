export { CloudRunTarget, type CloudRunTargetOptions, type DeployInfo } from './target.js';
export { createRunClients, idTokenHeaders, runClientOptions, type RunClients } from './client.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export { EmbeddedEmulatorTarget, type EmbeddedEmulatorOptions } from './embedded.js';
