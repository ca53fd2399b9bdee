/**
 * Every way a loop.config.yaml can be wrong should say where (field, line, column) and what was
 * expected. Each case is one small mistake in an otherwise valid file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError, formatConfigIssue, type ConfigIssue } from '../../src/errors.js';

/** A valid config; line numbers below refer to it. Text appended to it starts on line 14. */
const BASE = `apiVersion: deploy-loop/v1
service: demo
build:
  kind: command
  command: [node, check.mjs]
target:
  kind: local
  command: [node, server.mjs]
smoke:
  checks:
    - name: health
      kind: http
      path: /healthz
`;

const append = (text: string) => BASE + text;
const replace = (from: string, to: string) => {
  if (!BASE.includes(from)) throw new Error(`test setup: "${from}" is not in BASE`);
  return BASE.replace(from, to);
};
/** A second check, a WebSocket one, starting on line 14; its extra lines start on line 16. */
const wsCheck = (extra: string) => append(`    - name: ws\n      kind: websocket\n${extra}`);

/** The same config on a Cloud Run target; extra target lines start on line 10. */
const CLOUDRUN = replace('target:\n  kind: local\n  command: [node, server.mjs]\n', 'target:\n  kind: cloudrun\n  project: my-proj\n  region: europe-west1\n');
const cloudrun = (extra: string) => CLOUDRUN.replace('  region: europe-west1\n', `  region: europe-west1\n${extra}`);
/** A docker build in place of the command one; its extra lines start on line 7. */
const docker = (extra: string, registry = '127.0.0.1:5000', image = 'app') =>
  replace('  kind: command\n  command: [node, check.mjs]\n', `  kind: docker\n  registry: ${registry}\n  image: ${image}\n${extra}`);

interface Case {
  what: string;
  yaml: string;
  field: string;
  line?: number;
  column?: number;
  message: RegExp;
  env?: Record<string, string>;
}

const cases: Case[] = [
  { what: 'YAML syntax error', yaml: 'apiVersion: [unclosed\nservice: x\n', field: '', line: 2, column: 1, message: /^YAML syntax: Flow sequence/ },
  { what: 'empty file', yaml: '', field: '', line: undefined, message: /file is empty.*apiVersion: deploy-loop\/v1/ },
  { what: 'only comments', yaml: '# nothing yet\n', field: '', line: undefined, message: /file is empty/ },
  { what: 'a list at the top level', yaml: '- apiVersion: deploy-loop/v1\n', field: '', line: 1, column: 1, message: /expected a mapping \(key: value\) at the top level/ },
  { what: 'missing apiVersion', yaml: BASE.replace('apiVersion: deploy-loop/v1\n', ''), field: 'apiVersion', line: 1, column: 1, message: /required field "apiVersion" is missing: expected apiVersion: deploy-loop\/v1/ },
  { what: 'wrong apiVersion', yaml: replace('deploy-loop/v1', 'deploy-loop/v2'), field: 'apiVersion', line: 1, column: 13, message: /expected apiVersion: deploy-loop\/v1 \(got "deploy-loop\/v2"\)/ },
  { what: 'service name with capitals and underscores', yaml: replace('service: demo', 'service: My_Service'), field: 'service', line: 2, column: 10, message: /lowercase letters, digits and dashes.*\(got "My_Service"\)/ },
  { what: 'unknown top-level key, at the key', yaml: append('extra: 1\n'), field: 'extra', line: 14, column: 1, message: /unknown field "extra" in the top level; allowed: apiVersion, service, build/ },
  { what: 'unknown nested key, with a suggestion', yaml: replace('  kind: local\n', '  kind: local\n  prot: 8080\n'), field: 'target.prot', line: 8, column: 3, message: /unknown field "prot" in target \(did you mean "port"\?\)/ },
  { what: 'misspelt check field', yaml: append('      expct:\n        status: 200\n'), field: 'smoke.checks[0].expct', line: 14, column: 7, message: /did you mean "expect"/ },
  { what: 'unknown build.kind', yaml: replace('  kind: command\n', '  kind: bazel\n'), field: 'build.kind', line: 4, column: 9, message: /expected build.kind: command\b.*\(got "bazel"\)/ },
  { what: 'missing build section', yaml: replace('build:\n  kind: command\n  command: [node, check.mjs]\n', ''), field: 'build', line: 1, column: 1, message: /required field "build" is missing: expected a mapping/ },
  { what: 'build.command as a string', yaml: replace('command: [node, check.mjs]', 'command: node check.mjs'), field: 'build.command', line: 5, column: 12, message: /array of strings.*\(got "node check.mjs"\)/ },
  { what: 'empty build.command', yaml: replace('command: [node, check.mjs]', 'command: []'), field: 'build.command', line: 5, column: 12, message: /at least the program name \(got an empty list\)/ },
  { what: 'unknown target.kind', yaml: replace('kind: local', 'kind: mainframe'), field: 'target.kind', line: 7, column: 9, message: /expected target.kind: local\b.*\(got "mainframe"\)/ },
  { what: 'target.port out of range', yaml: replace('  kind: local\n', '  kind: local\n  port: 70000\n'), field: 'target.port', line: 8, column: 9, message: /port: a whole number from 0 to 65535 \(got 70000\)/ },
  { what: 'negative readiness timeout', yaml: replace('  kind: local\n', '  kind: local\n  readiness:\n    timeoutMs: -5\n'), field: 'target.readiness.timeoutMs', line: 9, column: 16, message: /positive whole number of milliseconds \(got -5\)/ },
  { what: 'env value a number', yaml: replace('  kind: local\n', '  kind: local\n  env:\n    PORT: 8080\n'), field: 'target.env.PORT', line: 9, column: 11, message: /must be strings \(quote numbers\) \(got 8080\)/ },
  { what: 'check without a name', yaml: replace('    - name: health\n      kind: http\n', '    - kind: http\n'), field: 'smoke.checks[0].name', line: 11, column: 7, message: /required field "name" is missing: every check needs a name/ },
  { what: 'duplicate check names, at the second', yaml: append('    - name: health\n      kind: http\n'), field: 'smoke.checks[1].name', line: 14, column: 13, message: /duplicate check name "health" \(also smoke.checks\[0\]\)/ },
  { what: 'priority P9', yaml: append('      priority: P9\n'), field: 'smoke.checks[0].priority', line: 14, column: 17, message: /expected a priority: P0, P1, P2 or P3 \(got "P9"\)/ },
  { what: 'check without kind', yaml: replace('      kind: http\n', ''), field: 'smoke.checks[0].kind', line: 11, column: 7, message: /required field "kind" is missing: a check needs `kind: http`, `kind: websocket` or `kind: command`/ },
  { what: 'unknown check kind', yaml: replace('      kind: http\n', '      kind: grpc\n'), field: 'smoke.checks[0].kind', line: 12, column: 13, message: /`kind: http`, `kind: websocket` or `kind: command` \(got "grpc"\)/ },
  { what: 'http path without a leading slash', yaml: replace('path: /healthz', 'path: healthz'), field: 'smoke.checks[0].path', line: 13, column: 13, message: /must start with "\/".*\(got "healthz"\)/ },
  { what: 'unknown http method', yaml: append('      method: FETCH\n'), field: 'smoke.checks[0].method', line: 14, column: 15, message: /expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS \(got "FETCH"\)/ },
  { what: 'expect.status 700', yaml: append('      expect:\n        status: 700\n'), field: 'smoke.checks[0].expect.status', line: 15, column: 17, message: /HTTP status code from 100 to 599 \(got 700\)/ },
  { what: 'expect.status a word', yaml: append('      expect:\n        status: ok\n'), field: 'smoke.checks[0].expect.status', line: 15, column: 17, message: /HTTP status code \(100-599\) or a list of them \(got "ok"\)/ },
  { what: 'bodyMatches not a regular expression', yaml: append('      expect:\n        bodyMatches: "([a-z"\n'), field: 'smoke.checks[0].expect.bodyMatches', line: 15, column: 22, message: /not a valid regular expression: Unterminated character class/ },
  { what: 'retries over the limit', yaml: append('      retries: 20\n'), field: 'smoke.checks[0].retries', line: 14, column: 16, message: /retries: a whole number from 0 to 10 \(got 20\)/ },
  { what: 'header value a number', yaml: append('      headers:\n        x-count: 1\n'), field: 'smoke.checks[0].headers.x-count', line: 15, column: 18, message: /header values must be strings/ },
  { what: 'checks a mapping instead of a list', yaml: replace('    - name: health\n      kind: http\n      path: /healthz\n', '    name: health\n'), field: 'smoke.checks', line: 11, column: 5, message: /expected a list \(got a mapping with name\)/ },
  { what: 'no checks at all', yaml: replace('    - name: health\n      kind: http\n      path: /healthz\n', '    []\n').replace('  checks:\n    []', '  checks: []'), field: 'smoke.checks', line: 10, column: 11, message: /at least one check/ },
  { what: 'websocket connections 0', yaml: wsCheck('      connections: 0\n'), field: 'smoke.checks[1].connections', line: 16, column: 20, message: /connections: a whole number from 1 to 100000 \(got 0\)/ },
  { what: 'script step with both send and expect', yaml: wsCheck('      script:\n        - send: hi\n          expect: { text: hi }\n'), field: 'smoke.checks[1].script[0]', line: 17, column: 11, message: /either \{send: …\} or \{expect: \{…\}\} \(got a mapping with send, expect\)/ },
  { what: 'script step with neither send nor expect', yaml: wsCheck('      script:\n        - {}\n'), field: 'smoke.checks[1].script[0]', line: 17, column: 11, message: /either \{send: …\} or \{expect: \{…\}\} \(got an empty mapping\)/ },
  { what: 'expect step with no json, text or matches', yaml: wsCheck('      script:\n        - expect: {}\n'), field: 'smoke.checks[1].script[0].expect', line: 17, column: 19, message: /needs json, text or matches/ },
  { what: 'expectClose code 999', yaml: wsCheck('      expectClose: { code: 999 }\n'), field: 'smoke.checks[1].expectClose.code', line: 16, column: 28, message: /close code from 1000 to 4999 \(got 999\)/ },
  { what: 'gate P0 150', yaml: append('gate:\n  P0: 150\n'), field: 'gate.P0', line: 15, column: 7, message: /pass rate in percent \(0-100\) \(got 150\)/ },
  { what: 'traffic tag with capitals', yaml: append('traffic:\n  tag: Candidate\n'), field: 'traffic.tag', line: 15, column: 8, message: /lowercase letters, digits and dashes.*\(got "Candidate"\)/ },
  { what: 'loop.maxCycles 0', yaml: append('loop:\n  maxCycles: 0\n'), field: 'loop.maxCycles', line: 15, column: 14, message: /maxCycles: a whole number from 1 to 1000 \(got 0\)/ },
  { what: 'fix.command a string', yaml: append('loop:\n  fix:\n    command: node fix.mjs\n'), field: 'loop.fix.command', line: 16, column: 14, message: /array of strings.*\(got "node fix.mjs"\)/ },
  { what: '${MISSING_VAR} names the variable', yaml: replace('path: /healthz', 'path: /${MISSING_VAR}'), field: 'smoke.checks[0].path', line: 13, column: 13, message: /environment variable MISSING_VAR is not set.*\$\{MISSING_VAR:-default\}/ },
  { what: '${VAR} in a list item', yaml: replace('[node, server.mjs]', '[node, "${ENTRY}"]'), field: 'target.command[1]', line: 8, column: 19, message: /ENTRY is not set/ },
  { what: 'a variable expanding to a bad value is shown by reference', yaml: append('traffic:\n  tag: ${TAG}\n'), env: { TAG: 'Bad_Tag' }, field: 'traffic.tag', line: 15, column: 8, message: /\(got the expansion of "\$\{TAG\}"\)$/ },
  { what: 'duplicate top-level key, at the second', yaml: append('service: other\n'), field: 'service', line: 14, column: 1, message: /duplicate key "service"/ },
  { what: 'duplicate nested key', yaml: replace('  kind: local\n', '  kind: local\n  kind: local\n'), field: 'target.kind', line: 8, column: 3, message: /duplicate key "kind"/ },
  // reports.dir may not leave the project: the loop writes, replaces and locks files there.
  { what: 'reports.dir escaping the project', yaml: append('reports:\n  dir: ../../x\n'), field: 'reports.dir', line: 15, column: 8, message: /"\.\.\/\.\.\/x" resolves to \/x, outside the config's folder \(\/repo\).*DEPLOY_LOOP_REPORTS_OUTSIDE=1/ },
  { what: 'reports.dir absolute outside the project', yaml: append('reports:\n  dir: /etc/deploy-loop\n'), field: 'reports.dir', line: 15, column: 8, message: /"\/etc\/deploy-loop" resolves to \/etc\/deploy-loop, outside/ },
  // traffic and canary
  { what: 'unknown traffic.strategy', yaml: append('traffic:\n  strategy: blue-green\n'), field: 'traffic.strategy', line: 15, column: 13, message: /expected traffic.strategy: direct or canary \(got "blue-green"\)/ },
  { what: 'canary steps decreasing', yaml: append('traffic:\n  strategy: canary\n  steps: [50, 10, 100]\n'), field: 'traffic.steps', line: 16, column: 10, message: /canary steps must increase strictly \(got \[50, 10, 100\]\)/ },
  { what: 'canary steps not ending at 100', yaml: append('traffic:\n  strategy: canary\n  steps: [10, 50]\n'), field: 'traffic.steps', line: 16, column: 10, message: /the last canary step must be 100 \(got 50\)/ },
  { what: 'canary steps a number', yaml: append('traffic:\n  strategy: canary\n  steps: 10\n'), field: 'traffic.steps', line: 16, column: 10, message: /list of percents, e\.g\. \[10, 50, 100\] \(got 10\)/ },
  { what: 'negative traffic.holdMs', yaml: append('traffic:\n  holdMs: -1\n'), field: 'traffic.holdMs', line: 15, column: 11, message: /holdMs as a whole number of milliseconds \(0 or more\) \(got -1\)/ },
  { what: 'traffic.smoke naming an unknown check', yaml: append('traffic:\n  smoke: [nope]\n'), field: 'traffic.smoke[0]', line: 15, column: 11, message: /no check named "nope" in smoke.checks \(have health\)/ },
  { what: 'traffic.smoke a number', yaml: append('traffic:\n  smoke: 5\n'), field: 'traffic.smoke', line: 15, column: 10, message: /expected traffic.smoke: all, or a list of check names \(got 5\)/ },
  // Cloud Run target
  { what: 'cloudrun target without region', yaml: CLOUDRUN.replace('  region: europe-west1\n', ''), field: 'target.region', line: 7, column: 3, message: /required field "region" is missing: expected a Cloud Run region/ },
  { what: 'cloudrun env setting PORT', yaml: cloudrun('  env:\n    PORT: "8080"\n'), field: 'target.env', line: 11, column: 5, message: /PORT, K_SERVICE, K_REVISION, K_CONFIGURATION are set by Cloud Run/ },
  { what: 'cloudrun ingress unknown', yaml: cloudrun('  ingress: everywhere\n'), field: 'target.ingress', line: 10, column: 12, message: /expected one of all, internal, internal-and-cloud-load-balancing \(got "everywhere"\)/ },
  { what: 'cloudrun secret id with spaces', yaml: cloudrun('  secrets:\n    - name: API_KEY\n      secret: "bad secret!"\n'), field: 'target.secrets[0].secret', line: 12, column: 15, message: /Secret Manager secret id .* \(got "bad secret!"\)/ },
  { what: 'cloudrun maxInstances negative', yaml: cloudrun('  maxInstances: -1\n'), field: 'target.maxInstances', line: 10, column: 17, message: /expected at least 1 \(got -1\)/ },
  { what: 'cloudrun misspelt secrets', yaml: cloudrun('  secretz: []\n'), field: 'target.secretz', line: 10, column: 3, message: /unknown field "secretz" in target \(did you mean "secrets"\?\)/ },
  // A bad record key is reported at the key, naming it, the rule and a valid name to use instead.
  { what: 'cloudrun label key with capitals and a space', yaml: cloudrun('  labels:\n    Team Name: platform\n'), field: 'target.labels.Team Name', line: 11, column: 5, message: /^label key "Team Name" is not valid: keys are lowercase letters, digits, _ and -, start with a letter, at most 63 characters \(rename it, e\.g\. to "team-name"\)$/ },
  { what: 'cloudrun label key of 64 characters', yaml: cloudrun(`  labels:\n    ${'k'.repeat(64)}: x\n`), field: `target.labels.${'k'.repeat(64)}`, line: 11, column: 5, message: /at most 63 characters \(rename it, e\.g\. to "k{63}"\)$/ },
  { what: 'cloudrun env name starting with a digit', yaml: cloudrun('  env:\n    1ST: "x"\n'), field: 'target.env.1ST', line: 11, column: 5, message: /^key "1ST" is not valid: an environment variable name is letters, digits and underscores, not starting with a digit$/ },
  { what: 'cloudrun vpcEgress unknown', yaml: cloudrun('  vpcEgress: some\n'), field: 'target.vpcEgress', line: 10, column: 14, message: /expected one of all-traffic, private-ranges-only \(got "some"\)/ },
  // container builds
  { what: 'docker build without registry', yaml: replace('  kind: command\n  command: [node, check.mjs]\n', '  kind: docker\n  image: app\n'), field: 'build.registry', line: 4, column: 3, message: /required field "registry" is missing: expected a registry/ },
  { what: 'docker image name with capitals', yaml: docker('', '127.0.0.1:5000', 'My_App'), field: 'build.image', line: 6, column: 10, message: /an image name is lowercase .* \(got "My_App"\)/ },
  { what: 'registry with a scheme', yaml: docker('', 'http://127.0.0.1:5000'), field: 'build.registry', line: 5, column: 13, message: /without a scheme, tag or trailing slash \(got "http:\/\/127.0.0.1:5000"\)/ },
  { what: 'buildArgs value a number', yaml: docker('  buildArgs:\n    VERSION: 3\n'), field: 'build.buildArgs.VERSION', line: 8, column: 14, message: /must be strings \(quote numbers\) \(got 3\)/ },
  { what: 'buildContexts name with capitals and a space', yaml: docker('  buildContexts:\n    Shared Libs: ../libs\n'), field: 'build.buildContexts.Shared Libs', line: 8, column: 5, message: /^build context name "Shared Libs" is not valid: names are lowercase letters, digits, \., _ and -, start with a letter or digit \(rename it here and in COPY --from, e\.g\. to "shared-libs"\)$/ },
  { what: 'build timeoutMs 0', yaml: docker('  timeoutMs: 0\n'), field: 'build.timeoutMs', line: 7, column: 14, message: /timeoutMs as a positive whole number of milliseconds \(got 0\)/ },
];

function issuesOf(yaml: string, env: Record<string, string> = {}): ConfigIssue[] {
  try {
    parseConfigText(yaml, '/repo/loop.config.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

describe('config errors', () => {
  it('the base config used by the cases is valid', () => {
    expect(parseConfigText(BASE, '/repo/loop.config.yaml', {}).config.service).toBe('demo');
  });

  it.each(cases)('$what', ({ yaml, env, field, line, column, message }) => {
    const issues = issuesOf(yaml, env);
    expect(issues).toHaveLength(1);
    const [issue] = issues;
    expect(issue).toMatchObject({ file: '/repo/loop.config.yaml', field });
    expect(issue?.line).toBe(line);
    if (column !== undefined) expect(issue?.column).toBe(column);
    expect(issue?.message).toMatch(message);
    // zod's generic English must not reach the user.
    expect(issue?.message).not.toMatch(/Invalid input|Too (big|small)|received undefined/);
  });

  it('has at least 50 malformed-config cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it('accepts reports.dir outside the project only when DEPLOY_LOOP_REPORTS_OUTSIDE=1', () => {
    const yaml = append('reports:\n  dir: /var/tmp/deploy-loop-reports\n');
    expect(parseConfigText(yaml, '/repo/loop.config.yaml', { DEPLOY_LOOP_REPORTS_OUTSIDE: '1' }).config.reports.dir).toBe('/var/tmp/deploy-loop-reports');
    expect(parseConfigText(append('reports:\n  dir: out/reports\n'), '/repo/loop.config.yaml', {}).config.reports.dir).toBe('out/reports');
  });

  it('reports every unknown key of a mapping at its own line', () => {
    const issues = issuesOf(append('foo: 1\nbar: 2\n'));
    expect(issues.map((i) => [i.field, i.line])).toEqual([
      ['foo', 14],
      ['bar', 15],
    ]);
  });

  it('reports several problems at once', () => {
    const issues = issuesOf(replace('service: demo', 'service: Demo').replace('path: /healthz', 'path: healthz'));
    expect(issues.map((i) => i.field)).toEqual(['service', 'smoke.checks[0].path']);
  });

  it('reports a bad label key and a bad buildContexts key in a file on disk at file:line:column, with the field and a fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-keys-'));
    const file = join(dir, 'loop.config.yaml');
    const yaml = cloudrun('  labels:\n    Team Name: platform\n').replace(
      '  kind: command\n  command: [node, check.mjs]\n',
      '  kind: docker\n  registry: 127.0.0.1:5000\n  image: app\n  buildContexts:\n    Shared Libs: ../libs\n',
    );
    writeFileSync(file, yaml);
    try {
      const err = await loadConfig(file, {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as ConfigError).message.split('\n');
      expect(lines).toContain(`${file}:8:5: build.buildContexts.Shared Libs: build context name "Shared Libs" is not valid: names are lowercase letters, digits, ., _ and -, start with a letter or digit (rename it here and in COPY --from, e.g. to "shared-libs")`);
      expect(lines).toContain(`${file}:14:5: target.labels.Team Name: label key "Team Name" is not valid: keys are lowercase letters, digits, _ and -, start with a letter, at most 63 characters (rename it, e.g. to "team-name")`);
      expect((err as ConfigError).message).not.toMatch(/Invalid key in record/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a ConfigError with exit code 2 whose message lists file:line:column per issue', () => {
    let caught: unknown;
    try {
      parseConfigText(append('gate:\n  P0: 150\n'), '/repo/loop.config.yaml', {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(formatConfigIssue(err.issues[0] as ConfigIssue));
    expect(err.message).toMatch(/^\/repo\/loop\.config\.yaml:15:7: gate\.P0: /);
  });
});
