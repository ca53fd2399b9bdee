/**
 * The one schema for loop.config.yaml: it gives the TypeScript types, the defaults, the validation
 * messages and (through `z.toJSONSchema`) the published JSON Schema. Objects are strict so a
 * misspelt key is an error instead of being silently ignored.
 */
import { z } from 'zod';
import { PRIORITIES } from '../model/check-result.js';
import { parseThreshold } from '../model/thresholds.js';
import { RETRY_ON } from '../model/retry.js';
import { serviceNameSchema, tagLengthProblem, tagSchema } from '../model/cloud-run-names.js';
import { afterPromoteSchema, cloudRunTargetSchema } from './cloudrun-schema.js';
import { containerBuildSchemas, localContainerSchema } from './container-schema.js';

export const API_VERSION = 'deploy-loop/v1';

const argv = z
  .array(z.string().min(1, 'an argument may not be empty'), { error: 'expected a command as an array of strings, e.g. [node, server.js]' })
  .min(1, 'the command needs at least the program name');

const ms = (what: string) =>
  z.number({ error: `expected ${what} as a positive whole number of milliseconds` }).int().positive();

/** A whole number in a range, with one message naming the field and the range for every way it can be wrong. */
const count = (what: string, min: number, max: number) =>
  z.number({ error: `expected ${what}: a whole number from ${min} to ${max}` }).int().min(min).max(max);

// A name with "=", a space or a control character cannot be set in a process environment.
const envName = z.string().regex(/^[^=\s\p{Cc}]+$/u, {
  error: (iss) => `environment variable name ${JSON.stringify(String(iss.input))} cannot contain "=", spaces or control characters (rename it, e.g. to "${String(iss.input).replace(/[=\s\p{Cc}]+/gu, '_')}")`,
});
const envMap = z.record(envName, z.string({ error: 'environment values must be strings (quote numbers)' }));

const priority = z.enum(PRIORITIES, { error: 'expected a priority: P0, P1, P2 or P3' });

const regexString = z.string({ error: 'expected a regular expression as a string' }).superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch (err) {
    // V8 says "Invalid regular expression: /(/: Unterminated group"; the last part is the news.
    const why = String((err as Error).message).split(': ').pop();
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${why}` });
  }
});

// RFC 9110: a field name is a token; a value may not hold CR, LF or NUL (a CRLF would start a new header).
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
  error: (iss) => `header name ${JSON.stringify(String(iss.input))} is not valid: names are letters, digits and !#$%&'*+.^_\`|~- (no spaces or colons)`,
});
const headerMap = z.record(
  headerName,
  z.string({ error: 'header values must be strings (quote numbers)' }).regex(/^[^\r\n\u0000]*$/, {
    error: 'a header value cannot contain a line break (CR/LF) or NUL: HTTP forbids them; put the value on one line',
  }),
);

const httpStatus = z.number({ error: 'expected an HTTP status code from 100 to 599' }).int().min(100).max(599);

// A regex (rather than a refine) so the published JSON Schema carries the rule as a pattern.
const path = z
  .string({ error: 'expected a path as a string, e.g. /healthz' })
  .regex(/^\//, { error: 'a path must start with "/" (it is joined to the URL under test)' });

const retrySchema = z
  .strictObject({
    policy: z.enum(['fixed', 'exponential'], { error: 'expected retry.policy: fixed or exponential' }).optional().meta({ default: 'fixed' })
      .describe('fixed (default): every retry waits delayMs. exponential: delayMs, then twice that, and so on, up to maxDelayMs.'),
    delayMs: z.number({ error: 'expected delayMs as a whole number of milliseconds (0 or more)' }).int().min(0).optional()
      .describe('Defaults to smoke.defaults.retryDelayMs.'),
    maxDelayMs: ms('maxDelayMs').optional().meta({ default: 30_000 }).describe('Cap on any one wait; default 30000.'),
    onlyOn: z.array(z.enum(RETRY_ON, { error: `expected a failure class or group: ${RETRY_ON.join(', ')}` })).min(1).optional()
      .describe('Retry only failures of these classes (groups: network, websocket, http); any failure when unset.'),
  })
  .describe('How the `retries` are spaced and which failures they apply to. A check\'s settings override smoke.defaults.retry field by field.');

const checkBase = {
  name: z.string({ error: 'every check needs a name' }).min(1).describe('Identifies the check across cycles and in reports; unique in the suite.'),
  priority: priority.default('P1').describe('P0 checks must all pass by default; see gate for the minimum pass rate per priority.'),
  timeoutMs: ms('timeoutMs').optional().describe('Per-attempt timeout; defaults to smoke.defaults.timeoutMs.'),
  retries: count('retries', 0, 10).optional().describe('Extra attempts after a failure.'),
  retry: retrySchema.optional(),
  description: z.string().optional().describe('What the check is for, for people reading the config.'),
};

export const httpCheckSchema = z
  .strictObject({
    ...checkBase,
    kind: z.literal('http').describe('An HTTP request.'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET').describe('HTTP method.'),
    path: path.default('/').describe('Joined to the URL under test (the candidate\'s tag URL, or the service URL in a canary step).'),
    headers: headerMap.default({}).describe('Request headers; authorization and cookie values are masked in reports.'),
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional()
      .describe('A string is sent as is; an object or array is sent as JSON.'),
    expect: z
      .strictObject({
        status: z
          .union([httpStatus, z.array(httpStatus).min(1, 'expected at least one status code in the list')], {
            error: 'expected an HTTP status code (100-599) or a list of them',
          })
          .default(200)
          .describe('The status the response must have, or a list of acceptable ones.'),
        headers: headerMap.optional().describe('Header values that must be contained (case-insensitive names).'),
        json: z.unknown().optional().describe('A JSON subset the response body must contain.'),
        bodyContains: z.string().optional().describe('Text the response body must contain.'),
        bodyMatches: regexString.optional().describe('A regular expression (JavaScript syntax) the response body must match.'),
        maxLatencyMs: ms('maxLatencyMs').optional().describe('A response slower than this fails the check.'),
      })
      .prefault({})
      .describe('What the response must look like; by default, status 200.'),
    degradedMs: ms('degradedMs').optional().describe('A pass slower than this (latency) is reported as degraded; degraded still counts as passing.'),
  })
  .refine((c) => c.degradedMs === undefined || c.expect.maxLatencyMs === undefined || c.degradedMs < c.expect.maxLatencyMs, {
    path: ['degradedMs'],
    error: 'degradedMs must be below expect.maxLatencyMs: a response slower than maxLatencyMs fails, so it can never be degraded',
  })
  .refine((c) => c.body === undefined || (c.method !== 'GET' && c.method !== 'HEAD'), {
    path: ['body'],
    error: (iss) => `a ${(iss.input as { method?: string }).method ?? 'GET'} request has no body (servers and proxies drop or refuse it): set method: POST, PUT or PATCH, or remove body`,
  })
  .describe('An HTTP request and what the response must look like.');

const sendStep = z.strictObject({
  send: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
    .describe('A string is sent as a text frame; an object or array as JSON text.'),
});
const expectStep = z.strictObject({
  expect: z
    .strictObject({
      json: z.unknown().optional().describe('A JSON subset the next message must contain.'),
      text: z.string().optional().describe('Text the next message must contain.'),
      matches: regexString.optional().describe('A regular expression (JavaScript syntax) the next message must match.'),
    })
    .refine((e) => e.json !== undefined || e.text !== undefined || e.matches !== undefined, {
      error: 'an expect step needs json, text or matches',
    })
    .describe('Waits for the next message; it must satisfy each of json, text and matches given.'),
  timeoutMs: ms('timeoutMs').optional().describe('How long to wait for the message; defaults to the check\'s timeoutMs.'),
});

export const websocketCheckSchema = z
  .strictObject({
    ...checkBase,
    kind: z.literal('websocket').describe('A WebSocket conversation.'),
    path: path.default('/').describe('Joined to the URL under test, with ws:// or wss://.'),
    headers: headerMap.default({}).describe('Handshake request headers; authorization and cookie values are masked in reports.'),
    subprotocols: z.array(z.string().min(1)).default([]).describe('Offered in Sec-WebSocket-Protocol.'),
    connections: count('connections', 1, 100_000).default(1).describe('Connections opened in parallel, each running the script.'),
    maxConnectMs: ms('maxConnectMs').optional().describe('A connection slower than this to open fails the check.'),
    degradedMs: ms('degradedMs').optional().describe('A pass whose slowest connect took longer than this is reported as degraded; degraded still counts as passing.'),
    script: z.array(z.union([sendStep, expectStep], { error: 'a script step is either {send: …} or {expect: {…}}' })).default([])
      .describe('Steps run in order on each connection: {send: …} or {expect: {…}}.'),
    expectClose: z
      .strictObject({
        code: z.number({ error: 'expected a WebSocket close code from 1000 to 4999' }).int().min(1000).max(4999).describe('The close code the server must send.'),
        reason: z.string().optional().describe('Text the close reason must contain.'),
      })
      .optional()
      .describe('The server must close with this code after the script; otherwise the client closes with 1000.'),
  })
  .refine((c) => c.degradedMs === undefined || c.maxConnectMs === undefined || c.degradedMs < c.maxConnectMs, {
    path: ['degradedMs'],
    error: 'degradedMs must be below maxConnectMs: a connect slower than maxConnectMs fails, so it can never be degraded',
  })
  .describe('A WebSocket connection (or N), a send/expect script, and how it must close.');

const priorityRule = z.union(
  [
    z.strictObject({ match: z.string().min(1).describe('Substring of the test name, or /regex/ (e.g. "[P0]", "@p0", "/@smoke\\b/i").'), priority: priority.describe('The priority of a test case this rule matches.') }),
    z.strictObject({ suite: z.string().min(1).describe('Glob over the suite path ("api › auth"); * matches any run of characters.'), priority: priority.describe('The priority of a test case this rule matches.') }),
    z.strictObject({ file: z.string().min(1).describe('Glob over the test file path; * does not cross "/", ** does.'), priority: priority.describe('The priority of a test case this rule matches.') }),
  ],
  { error: 'a priority rule is {match, priority}, {suite, priority} or {file, priority}' },
);

export const commandCheckSchema = z
  .strictObject({
    ...checkBase,
    kind: z.literal('command').describe('Your own test command, read through its JUnit XML.'),
    path: path.default('/').describe('Joined to the candidate URL given to the command (DEPLOY_LOOP_URL, BASE_URL).'),
    headers: headerMap.default({}).describe('Given to the command as JSON in DEPLOY_LOOP_HEADERS; credential values are redacted from evidence.'),
    command: argv.describe('Your test command, e.g. [npx, vitest, run, --reporter=junit, --outputFile=junit.xml]. DEPLOY_LOOP_URL and BASE_URL hold the candidate URL.'),
    cwd: z.string().min(1).optional().describe('Folder to run in, relative to the config file\'s folder.'),
    env: envMap.default({}).describe('Extra environment variables of the command.'),
    junit: z.string({ error: 'expected junit: the path of the JUnit XML file the command writes' }).min(1)
      .describe('JUnit XML file the command writes, relative to cwd. Removed before each run so a stale file is never read.'),
    timeoutMs: ms('timeoutMs').default(300_000).describe('Whole command timeout.'),
    priorities: z.array(priorityRule).default([]).describe('First matching rule gives a test case its priority.'),
    defaultPriority: priority.optional().describe('Priority of a test case no rule matches; defaults to the check\'s priority.'),
  })
  .describe('Runs an existing test suite against the candidate and turns each JUnit test case into a check.');

export const checkSchema = z.discriminatedUnion('kind', [httpCheckSchema, websocketCheckSchema, commandCheckSchema], {
  error: (iss) => (iss.code === 'invalid_union' ? 'a check needs `kind: http`, `kind: websocket` or `kind: command`' : undefined),
});

const commandBuildSchema = z.strictObject({
  kind: z.literal('command').describe('Snapshot the context folder into a build folder, and optionally run a build command in it.'),
  context: z.string().min(1).default('.').describe('Folder copied into an immutable build folder before building. May hold the config file, .deploy-loop/ and the reports folder: they are never copied.'),
  command: argv.optional().describe('Run inside the build folder; omit to only snapshot the context.'),
  exclude: z.array(z.string()).default(['**/.git', '**/node_modules'])
    .describe('Patterns left out of the build, in .dockerignore syntax (read after the context\'s own .dockerignore, so `!` here can re-include).'),
  env: envMap.default({}).describe('Extra environment variables of the build command.'),
  timeoutMs: ms('timeoutMs').default(300_000).describe('Longest the build command may run.'),
  keep: z.number({ error: 'expected keep: a whole number of builds' }).int().min(1).default(10)
    .describe('Most recently made or used builds kept; older ones are removed unless a revision runs from them or the history records them as serving.'),
});

export const buildSchema = z.discriminatedUnion('kind', [commandBuildSchema, ...containerBuildSchemas], {
  error: (iss) => (iss.code === 'invalid_union' ? 'expected build.kind: command, podman, docker or cloudbuild' : undefined),
});

const readinessSchema = z
  .strictObject({
    path: path.default('/').describe('Polled until it answers (any HTTP status below 500).'),
    timeoutMs: ms('timeoutMs').default(15_000).describe('A revision not ready by then fails the deploy.'),
    intervalMs: ms('intervalMs').default(100).describe('Time between two polls.'),
  })
  .prefault({})
  .describe('How the local target decides a new revision is ready for traffic.');

const localTargetSchema = z.strictObject({
  kind: z.literal('local').describe('The embedded local target: revisions as processes (or containers) behind a traffic-splitting proxy.'),
  command: argv.optional().describe('Starts one revision inside its folder; PORT is set in its environment. With runtime: container, replaces the image CMD.'),
  runtime: z.enum(['process', 'container'], { error: 'expected runtime: process or container' }).optional().meta({ default: 'process' })
    .describe('process (default): the command in the build folder. container: the built image, run by podman or docker.'),
  container: localContainerSchema.optional().describe('With runtime: container: the engine and ports.'),
  host: z.literal('127.0.0.1').default('127.0.0.1').describe('The proxy and revisions listen on loopback only.'),
  port: count('a port', 0, 65535).default(0).describe('Port of the traffic proxy (the service URL); 0 picks a free one.'),
  env: envMap.default({}).describe('Environment variables of every revision (PORT is set by deploy-loop).'),
  secretEnv: z.array(z.string()).default([]).describe('Names of env values to redact from reports and logs.'),
  readiness: readinessSchema,
  keepRevisions: count('keepRevisions', 1, 20).default(3).describe('Revisions kept running (serving or rollback targets).'),
}).superRefine((t, ctx) => {
  if (t.runtime !== 'container' && !t.command) ctx.addIssue({ code: 'custom', path: ['command'], message: 'required field "command" is missing: runtime: process starts each revision with it, e.g. [node, server.js]' });
});

export const targetSchema = z.discriminatedUnion('kind', [localTargetSchema, cloudRunTargetSchema], {
  error: (iss) => (iss.code === 'invalid_union' ? 'expected target.kind: local or cloudrun' : undefined),
});

export const trafficSchema = z
  .strictObject({
    strategy: z.enum(['direct', 'canary'], { error: 'expected traffic.strategy: direct or canary' }).default('direct')
      .describe('direct: the candidate takes 100% once its tag URL passes the gate. canary: it takes the shares in `steps`, with the smoke suite run against the service URL at each.'),
    steps: z
      .array(z.number({ error: 'expected a canary step as a whole percent from 1 to 100' }).int().min(1).max(100), {
        error: 'expected canary steps as a list of percents, e.g. [10, 50, 100]',
      })
      .min(1, 'expected at least one canary step')
      .superRefine((steps, ctx) => {
        if (steps.some((p, i) => i > 0 && p <= (steps[i - 1] ?? 0))) ctx.addIssue({ code: 'custom', message: `canary steps must increase strictly (got [${steps.join(', ')}])` });
        if (steps.at(-1) !== 100) ctx.addIssue({ code: 'custom', message: `the last canary step must be 100 (got ${steps.at(-1)})` });
      })
      .default([10, 50, 100])
      .describe('canary: the candidate\'s share at each step, strictly increasing, ending at 100.'),
    holdMs: z.number({ error: 'expected holdMs as a whole number of milliseconds (0 or more)' }).int().min(0).default(0)
      .describe('canary: how long each step serves before its smoke run.'),
    smoke: z
      .union([z.literal('all'), z.array(z.string().min(1)).min(1, 'expected at least one check name')], {
        error: 'expected traffic.smoke: all, or a list of check names',
      })
      .default('all')
      .describe('canary: the checks run against the service URL at each step.'),
    tag: tagSchema
      .default('candidate')
      .describe('Traffic tag of the candidate revision: its own URL, smoked before it takes traffic. On Cloud Run, tag and service name together are at most 46 characters.'),
    afterPromote: afterPromoteSchema,
  })
  .prefault({})
  .describe('How a candidate that passed the gate takes traffic.');

const gatePercent = z.number({ error: 'expected a minimum pass rate in percent (0-100)' }).min(0).max(100);
const thresholdSchema = z.strictObject({
  expr: z.string({ error: 'expected expr: a threshold such as "p95(latency) < 500ms"' }).superRefine((expr, ctx) => {
    const parsed = parseThreshold(expr);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
  }).describe('func(metric) op value: p50/p90/p95/p99/min/max/avg of latency or connectMs (ms, s), rate(fail|pass) (0-1 or %), count(fail|pass).'),
  checks: z.array(z.string().min(1)).min(1, 'expected at least one check name').optional().describe('Only these checks (a command check covers its test cases).'),
  priority: priority.optional().describe('Only checks of this priority.'),
  abortOnFail: z.boolean().optional().describe('Also evaluate after each finished check; the first failure stops the smoke run, skips the checks not yet finished and fails the gate.'),
});
export const gateSchema = z
  .strictObject({
    P0: gatePercent.default(100).describe('Minimum P0 pass rate in percent.'),
    P1: gatePercent.optional().describe('Minimum P1 pass rate in percent; not gated when unset.'),
    P2: gatePercent.optional().describe('Minimum P2 pass rate in percent; not gated when unset.'),
    P3: gatePercent.optional().describe('Minimum P3 pass rate in percent; not gated when unset.'),
    allowFlaky: z
      .boolean({ error: 'expected allowFlaky as true or false' })
      .optional()
      .meta({ default: false })
      .describe('Count a check that passed only on retry (flaky) as passing. Default false.'),
    thresholds: z.array(thresholdSchema).optional()
      .describe('Figure thresholds; each must hold for the gate to pass. Zero samples fail.'),
  })
  .prefault({})
  .describe(
    'Minimum pass rate per priority, in percent. Unset priorities are reported but not gated. A gated priority (P0 by default) with no check fails, except at 0%.',
  );

export const smokeSchema = z.strictObject({
  concurrency: count('concurrency', 1, 1000).default(8).describe('Checks run at the same time.'),
  defaults: z
    .strictObject({
      timeoutMs: ms('timeoutMs').default(5000).describe('Per-attempt timeout of a check that sets none.'),
      retries: count('retries', 0, 10).default(0).describe('Extra attempts after a failure, for a check that sets none.'),
      retryDelayMs: z
        .number({ error: 'expected retryDelayMs as a whole number of milliseconds (0 or more)' })
        .int()
        .min(0)
        .default(200)
        .describe('Wait before a retry, for a retry policy that sets no delayMs.'),
      retry: retrySchema.optional(),
    })
    .prefault({})
    .describe('Settings every check gets unless it sets its own.'),
  checks: z.array(checkSchema).min(1, 'the smoke suite needs at least one check').describe('The smoke suite: HTTP, WebSocket and command checks, each with a priority.'),
}).describe('The checks run against each candidate, and their defaults.');

export const loopSchema = z
  .strictObject({
    maxCycles: count('maxCycles', 1, 1000).default(5).describe('`deploy-loop run` stops after this many cycles (the run ends as max-cycles).'),
    maxMinutes: z.number({ error: 'expected maxMinutes as a positive number of minutes' }).positive().optional()
      .describe('No cycle starts after this many minutes since the run began (the run ends as max-minutes).'),
    stallAfter: count('stallAfter', 2, 1000).default(3)
      .describe('The same set of failing checks for this many consecutive cycles ends the run as stalled.'),
    onFixFailure: z.enum(['continue', 'stop'], { error: 'expected onFixFailure: continue or stop' }).default('continue')
      .describe('stop: a fix command that exits non-zero or times out ends the run as fix-failed.'),
    fix: z
      .strictObject({
        command: argv.describe('Run between cycles with the report in DEPLOY_LOOP_REPORT_JSON and the ranked issues in DEPLOY_LOOP_ISSUES_JSON, e.g. [node, scripts/fix.mjs].'),
        shell: z.boolean().default(false).describe('Run through a shell. Off by default: config never reaches a shell unless asked.'),
        cwd: z.string().optional().describe('Folder to run in, relative to the config file\'s folder; defaults to it.'),
        timeoutMs: ms('timeoutMs').default(600_000).describe('Longest the fix command may run; then it is stopped and counts as failed.'),
        env: envMap.default({}).describe('Extra environment variables of the fix command.'),
      })
      .optional()
      .describe('A command (an agent, a script) run between cycles to fix what the report names.'),
  })
  .prefault({})
  .describe('When `deploy-loop run` stops, and what runs between cycles.');

export const reportsSchema = z
  .strictObject({
    dir: z.string().min(1).default('reports').describe('Where reports and the history of records go, relative to the config file\'s folder.'),
  })
  .prefault({})
  .describe('Where the reports are written.');

export const configSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION, { error: `expected apiVersion: ${API_VERSION}` }).describe('The config format version.'),
    service: serviceNameSchema.describe('The service\'s name: names its revisions and reports, and the Cloud Run service unless target.service is set.'),
    build: buildSchema.describe('How each cycle builds the candidate: command, podman, docker or cloudbuild.'),
    target: targetSchema.describe('Where the candidate runs: the embedded local target, or Cloud Run.'),
    traffic: trafficSchema,
    smoke: smokeSchema,
    gate: gateSchema,
    loop: loopSchema,
    reports: reportsSchema,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.target.kind === 'cloudrun') {
      const tooLong = tagLengthProblem(cfg.target.service ?? cfg.service, cfg.traffic.tag);
      if (tooLong) ctx.addIssue({ code: 'custom', path: ['traffic', 'tag'], message: `${tooLong}: shorten traffic.tag or the service name` });
    }
    const seen = new Map<string, number>();
    cfg.smoke.checks.forEach((c, i) => {
      const first = seen.get(c.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['smoke', 'checks', i, 'name'],
          message: `duplicate check name "${c.name}" (also smoke.checks[${first}]); names identify checks across cycles`,
        });
      } else seen.set(c.name, i);
    });
    if (Array.isArray(cfg.traffic.smoke)) {
      cfg.traffic.smoke.forEach((name, i) => {
        if (!seen.has(name)) {
          ctx.addIssue({ code: 'custom', path: ['traffic', 'smoke', i], message: `no check named "${name}" in smoke.checks (have ${[...seen.keys()].join(', ')})` });
        }
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type CheckConfig = z.output<typeof checkSchema>;
export type HttpCheckConfig = z.output<typeof httpCheckSchema>;
export type WebSocketCheckConfig = z.output<typeof websocketCheckSchema>;
export type CommandCheckConfig = z.output<typeof commandCheckSchema>;
export type SmokeConfig = z.output<typeof smokeSchema>;
export type GateConfig = z.output<typeof gateSchema>;
export type BuildConfig = z.output<typeof buildSchema>;
export type TargetConfig = z.output<typeof targetSchema>;
export type LocalTargetConfig = z.output<typeof localTargetSchema>;
export type TrafficConfig = z.output<typeof trafficSchema>;

export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
