/**
 * `deploy-loop init`: writes a commented loop.config.yaml for a user's service from flags alone, so
 * it works the same in CI as at a terminal. The file it writes passes `deploy-loop validate`.
 */
import { access, appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';
import { JSON_SCHEMA_FILE } from './config/json-schema.js';

export interface InitOptions {
  /** Where to write; refused if it exists unless `force`. */
  file: string;
  service?: string;
  target?: string;
  healthPath?: string;
  wsPath?: string;
  force?: boolean;
}

const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/;
const TARGETS = ['local', 'cloudrun'] as const;
type InitTarget = (typeof TARGETS)[number];

/** A service name from a folder name: lowercase, dashes, Cloud Run's rules; `my-service` if nothing is left. */
export function serviceNameFrom(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 49).replace(/-+$/, '');
  return SERVICE_NAME.test(name) ? name : 'my-service';
}

function checkPath(flag: string, value: string): string {
  if (!value.startsWith('/')) throw new UsageError(`--${flag} must start with "/" (got "${value}")`);
  if (/[\s"'#]/.test(value)) throw new UsageError(`--${flag} may not contain spaces, quotes or "#" (got "${value}")`);
  return value;
}

/** Cloud Run refuses a traffic tag whose length plus the service name's exceeds this. */
export const CLOUD_RUN_TAG_AND_SERVICE_MAX = 46;
const TAG_CHOICES = ['candidate', 'cand', 'c'];

/**
 * The candidate tag `init` writes: `candidate` unless that and the service name together exceed
 * Cloud Run's limit ("Combined traffic tag and service name cannot exceed 46 characters"), then the
 * longest shorter one that fits; undefined when not even a one-letter tag fits.
 */
export function candidateTagFor(service: string): string | undefined {
  return TAG_CHOICES.find((t) => t.length + service.length <= CLOUD_RUN_TAG_AND_SERVICE_MAX);
}

/** Folders deploy-loop writes next to the config; neither belongs in version control. */
export const GITIGNORE_LINES = ['.deploy-loop/', 'reports/'];

export interface InitResult {
  /** The config written, absolute. */
  file: string;
  /** One line each on what else init did or asks of the user (the .gitignore). */
  notes: string[];
}

/**
 * Writes the config; returns its absolute path. What init did to .gitignore (or the lines to add)
 * goes to stdout, before the CLI's own line about the file: `initProject` returns it instead.
 */
export async function initConfig(opts: InitOptions): Promise<string> {
  const result = await initProject(opts);
  for (const note of result.notes) process.stdout.write(`${note}\n`);
  return result.file;
}

/** Writes the config and adds the output folders to an existing .gitignore; never asks. */
export async function initProject(opts: InitOptions): Promise<InitResult> {
  const file = await writeConfig(opts);
  return { file, notes: [await ignoreOutputFolders(dirname(file))] };
}

/**
 * Adds `.deploy-loop/` and `reports/` to the .gitignore next to the config when it exists and
 * lacks them; otherwise says which lines to add. Never creates a .gitignore: a folder without one
 * may not be a git repository at all.
 */
export async function ignoreOutputFolders(dir: string): Promise<string> {
  const gitignore = join(dir, '.gitignore');
  let text: string;
  try {
    text = await readFile(gitignore, 'utf8');
  } catch {
    return `no .gitignore in ${dir}; add these lines to yours: ${GITIGNORE_LINES.join(' ')}`;
  }
  const have = new Set(text.split(/\r?\n/).map((l) => l.trim().replace(/^\//, '').replace(/\/$/, '')));
  const missing = GITIGNORE_LINES.filter((l) => !have.has(l.replace(/\/$/, '')));
  if (missing.length === 0) return `.gitignore already ignores ${GITIGNORE_LINES.join(' and ')}`;
  const lead = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  await appendFile(gitignore, `${lead}# deploy-loop's working files and reports\n${missing.join('\n')}\n`);
  return `added ${missing.join(' and ')} to ${gitignore}`;
}

/** The published schema's path as the config's modeline names it: relative to the config, `/`-separated. */
export function schemaPathFrom(configDir: string): string {
  const schema = fileURLToPath(new URL(`../${JSON_SCHEMA_FILE}`, import.meta.url));
  const rel = relative(configDir, schema).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

async function writeConfig(opts: InitOptions): Promise<string> {
  const file = resolve(opts.file);
  const service = opts.service ?? serviceNameFrom(basename(resolve(file, '..')));
  if (!SERVICE_NAME.test(service)) {
    throw new UsageError(`--service "${service}" is not a valid name: lowercase letters, digits and dashes, starting with a letter (Cloud Run rules)`);
  }
  const target = (opts.target ?? 'local') as InitTarget;
  if (!TARGETS.includes(target)) throw new UsageError(`--target must be local or cloudrun (got "${opts.target}")`);
  const tag = candidateTagFor(service);
  if (target === 'cloudrun' && !tag) {
    throw new UsageError(
      `--service "${service}" is ${service.length} characters: Cloud Run allows at most ${CLOUD_RUN_TAG_AND_SERVICE_MAX} for the service name and the candidate's traffic tag together`,
      `use a name of at most ${CLOUD_RUN_TAG_AND_SERVICE_MAX - 1} characters`,
    );
  }
  const health = checkPath('health-path', opts.healthPath ?? '/healthz');
  const ws = opts.wsPath === undefined ? undefined : checkPath('ws-path', opts.wsPath);
  if (!opts.force && (await exists(file))) {
    throw new UsageError(`${file} already exists; not overwriting it`, 'pass --force to replace it');
  }
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, renderInitConfig({ service, target, health, schema: schemaPathFrom(dirname(file)), ...(tag ? { tag } : {}), ...(ws ? { ws } : {}) }));
  return file;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export function renderInitConfig(o: { service: string; target: InitTarget; health: string; ws?: string; schema?: string; tag?: string }): string {
  const deploy = o.target === 'local' ? localSection(o.health) : cloudRunSection(o.service, o.tag ?? 'candidate');
  const wsCheck = o.ws
    ? `
    # A WebSocket conversation: connect, send, expect a reply. Adjust the script to your protocol.
    - name: websocket
      kind: websocket
      priority: P0
      path: ${o.ws}
      maxConnectMs: 2000
      script:
        - send: { type: ping }
        - expect: { text: ping }
`
    : '';
  // The modeline gives editors with the YAML language server (VS Code's YAML extension, Neovim,
  // Helix, …) completion and checking from the published schema.
  const modeline = o.schema ? `# yaml-language-server: $schema=${o.schema}\n` : '';
  return `${modeline}# deploy-loop configuration for ${o.service}, written by \`deploy-loop init\`.
# Check it with \`deploy-loop validate\`. The schema for editors: \`deploy-loop schema\`.
# Strings may use \${VAR} and \${VAR:-default} from the environment.
apiVersion: deploy-loop/v1
service: ${o.service}
${deploy}
smoke:
  defaults:
    timeoutMs: 5000
    # Extra attempts after a failure; retry.onlyOn keeps a real bug (an assertion) from being retried.
    retries: 1
    retry: { policy: exponential, delayMs: 200, onlyOn: [network, timeout, http-5xx] }
  checks:
    # P0 checks must all pass for a cycle to pass the gate.
    - name: health
      kind: http
      priority: P0
      path: ${o.health}
      expect:
        status: 200
        maxLatencyMs: 1000
${wsCheck}
# Minimum pass rate per priority, in percent. Unset priorities are reported but not gated.
gate:
  P0: 100
  # Figure thresholds, each shown in the report with its measured value. abortOnFail also checks one
  # after every finished check and stops the smoke run at its first failure. Uncomment and adjust:
  # thresholds:
  #   - expr: p95(latency) < 500ms
  #   - expr: rate(fail) == 0
  #     priority: P0
  #     abortOnFail: true

loop:
  # \`deploy-loop run\` stops at the first of: the gate passes, maxCycles, maxMinutes, or the same
  # checks failing for stallAfter cycles.
  maxCycles: 5
  maxMinutes: 60
  stallAfter: 3
  # A command (an agent, a script) run between cycles with the report in DEPLOY_LOOP_REPORT_JSON and
  # the ranked issues in DEPLOY_LOOP_ISSUES_JSON. Uncomment and adjust:
  # fix:
  #   command: [node, scripts/fix.mjs]
  #   timeoutMs: 600000
  # onFixFailure: stop   # end the run as fix-failed when the fix command fails (default: continue)

reports:
  dir: reports
`;
}

function localSection(health: string): string {
  return `
# Build: the folder is copied into an immutable revision folder; command (optional) runs inside it.
build:
  kind: command
  context: .
  # command: [npm, run, build]

# The embedded local target: each revision runs as a process with PORT set, behind a local proxy
# that splits traffic between revisions like Cloud Run does.
target:
  kind: local
  command: [node, server.js]
  readiness:
    path: ${health}
    timeoutMs: 15000
`;
}

function cloudRunSection(service: string, tag: string): string {
  return `
# Build: gcloud builds submit; the image is tagged per cycle and deployed by digest.
build:
  kind: cloudbuild
  context: .
  image: \${REGION:-us-central1}-docker.pkg.dev/\${GOOGLE_CLOUD_PROJECT:-my-project}/deploy-loop/${service}

# Google Cloud Run: each cycle deploys a candidate revision with no traffic, smokes its tag URL, and
# promotes it when the gate passes. Credentials come from Application Default Credentials.
target:
  kind: cloudrun
  project: \${GOOGLE_CLOUD_PROJECT:-my-project}
  region: \${REGION:-us-central1}

# direct: the candidate takes 100% once it passes. canary: it takes the shares in steps.
# tag: the candidate's tag URL; Cloud Run allows at most ${CLOUD_RUN_TAG_AND_SERVICE_MAX} characters for tag and service name together.
traffic:
  strategy: direct
  tag: ${tag}
`;
}
