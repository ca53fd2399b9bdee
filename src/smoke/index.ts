/** The smoke stage: run configured checks against a URL and get results back. */
export { runSuite, runCheck, classifyError, type SuiteOptions } from './runner.js';
export { classifyCloseCode, classifyStatus, describeError } from './classify.js';
export { matchJson, formatMismatches, type MatchResult, type Mismatch } from './match.js';
export { redactText, redactHeaders, redactUrl, secretsFromHeaders, isSecretHeader, REDACTED } from './redact.js';
export { webSocketUrl } from './websocket.js';
export { percentile } from '../model/samples.js';
export { joinUrl } from './attempt.js';
export * from '../model/check-result.js';
