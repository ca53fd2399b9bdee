/**
 * Test configs as typed data: an object of the config schema's input type, written as YAML. A field
 * renamed in the schema fails to compile here, where a YAML template patched with `.replace()`
 * would silently stop matching and test nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { z } from 'zod';
import type { configSchema } from '../../src/config/schema.js';

export type ConfigInput = z.input<typeof configSchema>;
export type LocalTargetInput = Extract<ConfigInput['target'], { kind: 'local' }>;
export type CloudRunTargetInput = Extract<ConfigInput['target'], { kind: 'cloudrun' }>;

/** The Cloud Run target of a config that deploys through the emulator on `port` (public unless `over` says otherwise). */
export function emulatedCloudRunTarget(port: number, over: Partial<CloudRunTargetInput> = {}): CloudRunTargetInput {
  return {
    kind: 'cloudrun',
    project: 'demo-project',
    region: 'europe-west4',
    access: 'public',
    endpoint: { host: '127.0.0.1', port, insecure: true },
    operationTimeoutMs: 20_000,
    ...over,
  };
}
export type CheckInput = ConfigInput['smoke']['checks'][number];
/** A config whose `loop` is spelled out, so a test can spread it: `{ ...c, loop: { ...c.loop, fix } }`. */
export type TinyConfig = ConfigInput & { loop: NonNullable<ConfigInput['loop']> };

/** The config as the YAML a user would write. */
export function configYaml(config: ConfigInput): string {
  return stringify(config);
}

/**
 * For text a test does not own (`init`'s output, a generated file): replace `search` once, and throw
 * when it does not occur, so a patch that stopped matching fails instead of silently testing nothing.
 */
export function patchText(text: string, search: string | RegExp, replacement: string): string {
  const found = typeof search === 'string' ? text.includes(search) : new RegExp(search.source, search.flags.replace('g', '')).test(text);
  if (!found) throw new Error(`patchText: ${String(search)} does not occur in the text, so the patch would do nothing:\n${text}`);
  return text.replace(search, replacement);
}

export async function writeConfig(dir: string, config: ConfigInput, name = 'loop.config.yaml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, configYaml(config));
  return file;
}

/**
 * A standard-library Python HTTP service (not the demo's Node stack) answering JSON `{"ok", "revision"}`:
 * 200 when `ok` (a Python expression over `self.path` and the names `head` defines) holds, else 500.
 * It reads PORT as Cloud Run's contract says and logs each request line to stderr.
 */
export function pythonJsonService(head: string, ok: string): string {
  return `import http.server, json, os, sys
${head}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = ${ok}
        body = json.dumps({"ok": ok, "revision": os.environ.get("K_REVISION", "")}).encode()
        self.send_response(200 if ok else 500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        sys.stderr.write("%s\\n" % (fmt % args))
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;
}

/** FAULT=1 in its environment makes /healthz answer 500. */
export const PYTHON_SERVICE = pythonJsonService('FAULT = os.environ.get("FAULT", "0")', 'not (FAULT == "1" and self.path == "/healthz")');

/** The Python service's config: one P0 health check, the service in its own folder `svc/`. */
export function pythonConfig(over: { env?: Record<string, string>; port?: number; maxCycles?: number; fix?: string[] } = {}): ConfigInput {
  return {
    apiVersion: 'deploy-loop/v1',
    service: 'pysvc',
    build: { kind: 'command', context: 'svc' },
    target: {
      kind: 'local',
      command: ['/usr/bin/python3', 'server.py'],
      env: over.env ?? {},
      ...(over.port !== undefined ? { port: over.port } : {}),
      readiness: { path: '/', timeoutMs: 10_000 },
    },
    smoke: {
      defaults: { timeoutMs: 3000 },
      checks: [{ name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { json: { ok: true } } }],
    },
    loop: { maxCycles: over.maxCycles ?? 1, ...(over.fix ? { fix: { command: over.fix } } : {}) },
  };
}
