/** deploy-loop as a library: the same stages the CLI wires together. */
export { loadConfig, parseConfigText, type LoadedConfig } from './config/load.js';
export { configSchema, configJsonSchema, type Config, type CheckConfig } from './config/schema.js';
export { createBuilder, type Builder, type BuildOutcome, type BuiltImage } from './build/index.js';
export { createTarget, type Target, type TrafficEntry, type Revision, type DeployOutcome } from './deploy/index.js';
export { LocalTarget } from './deploy/local/target.js';
export { CloudRunTarget } from './deploy/cloudrun/target.js';
export { runSuite, runCheck, type SuiteOptions } from './smoke/runner.js';
export type { CheckResult, Priority, FailureClass, Evidence } from './smoke/result.js';
export { assessGate } from './loop/gate.js';
export { runCycle, type CycleDeps } from './loop/cycle.js';
export { runLoop, type LoopOptions, type RunOutcome, type RunStatus } from './loop/run.js';
export type { CycleRecord, GateVerdict } from './loop/record.js';
export { renderCycleMarkdown } from './report/markdown.js';
export { renderCycleJson } from './report/json.js';
export { renderJunit } from './report/junit.js';
export { startEmulator, type Emulator } from './emulator/index.js';
export { ConfigError, UsageError, StageError, InternalError, DeployLoopError, EXIT } from './errors.js';
