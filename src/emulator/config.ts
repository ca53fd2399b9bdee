/**
 * The emulator's own config (emulator.yaml): how long operations take, how revisions are probed,
 * which local command stands in for which container image, and Secret Manager values.
 *
 * ```yaml
 * operationDelayMs: 300
 * images:
 *   "dir:": { command: [node, server.js] }                 # built folders: run inside the folder
 *   us-docker.pkg.dev/p/repo/chat: { command: [node, server.js], cwd: ../examples/chat }
 * secrets:
 *   api-key: s3cret                                        # projects/P/secrets/api-key, any version
 * ```
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { localContainerSchema } from '../config/container-schema.js';
import { ConfigError } from '../errors.js';
import { formatPath } from '../config/load.js';

const argv = z
  .array(z.string().min(1), { error: 'expected a command as an array of strings, e.g. [node, server.js]' })
  .min(1, 'the command needs at least the program name');

const imageEntrySchema = z
  .strictObject({
    command: argv.describe('Runs one revision; PORT, K_SERVICE, K_REVISION and the container env are set.'),
    cwd: z
      .string()
      .optional()
      .describe('Working folder. For `dir:` images, relative to the image folder (default: the folder itself); otherwise relative to this file.'),
    env: z.record(z.string(), z.string()).default({}).describe('Extra environment for the process, under the container env.'),
  })
  .describe('A local command standing in for a container image.');

export const emulatorConfigSchema = z.strictObject({
  operationDelayMs: z
    .number()
    .int()
    .min(0)
    .default(200)
    .describe('Minimum time before a long-running operation completes.'),
  startup: z
    .strictObject({
      timeoutMs: z
        .number()
        .int()
        .positive()
        .optional()
        .describe("Caps the startup probe's budget (Cloud Run's default probe allows 240 s), so a revision that never listens fails sooner."),
      intervalMs: z.number().int().positive().optional().describe('Time between two probe attempts (default 100).'),
    })
    .prefault({})
    .describe("How revisions are probed at start: as Cloud Run does, TCP on the container port unless the revision template sets startupProbe (httpGet passes on 200 to 399)."),
  readiness: z
    .strictObject({
      path: z.string().startsWith('/').optional(),
      timeoutMs: z.number().int().positive().optional(),
      intervalMs: z.number().int().positive().optional(),
    })
    .optional()
    .describe('Deprecated: use `startup`. timeoutMs and intervalMs still apply (as startup.timeoutMs / intervalMs); path is ignored, since Cloud Run probes no HTTP path unless the template configures startupProbe.httpGet.'),
  images: z
    .record(z.string().min(1), imageEntrySchema)
    .default({})
    .describe('Image reference (exact, or a prefix ending before ":", "@" or "/") → local command. The longest match wins.'),
  containers: localContainerSchema
    .optional()
    .describe('Run images that no entry of "images" maps as real containers with this engine (podman or docker), pulled by their reference.'),
  secrets: z
    .record(z.string(), z.string())
    .default({})
    .describe('Secret Manager values by secret name, `name:version`, or full resource name.'),
  adminPort: z
    .union([z.number().int().min(0).max(65535), z.literal(false)])
    .default(0)
    .describe('Port of the HTTP fault-injection endpoint on 127.0.0.1 (0: any free port; false: off).'),
});

export type EmulatorConfig = z.output<typeof emulatorConfigSchema>;

/** The startup settings in effect: `startup`, or the deprecated `readiness` fields where `startup` leaves them unset. */
export function startupSettings(config: EmulatorConfig): { capMs: number | undefined; intervalMs: number } {
  const old = config.readiness;
  return {
    capMs: config.startup.timeoutMs ?? old?.timeoutMs,
    intervalMs: config.startup.intervalMs ?? old?.intervalMs ?? 100,
  };
}
export type EmulatorConfigInput = z.input<typeof emulatorConfigSchema>;

export interface LoadedEmulatorConfig {
  config: EmulatorConfig;
  /** Folder relative `cwd`s of non-`dir:` images are resolved against. */
  baseDir: string;
}

export async function loadEmulatorConfig(file: string): Promise<LoadedEmulatorConfig> {
  const abs = path.resolve(file);
  let raw: unknown;
  try {
    raw = parse(await readFile(abs, 'utf8'));
  } catch (err) {
    throw new ConfigError([{ file: abs, field: '', message: `cannot read the emulator config: ${(err as Error).message}` }]);
  }
  return { config: parseEmulatorConfig(raw ?? {}, abs), baseDir: path.dirname(abs) };
}

export function parseEmulatorConfig(raw: unknown, file = 'emulator config'): EmulatorConfig {
  const parsed = emulatorConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((iss) => ({
      file,
      field: formatPath(iss.path.filter((k): k is string | number => typeof k !== 'symbol')),
      message: iss.message,
    })),
  );
}

export interface ImageCommand {
  command: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The local command for an image, or undefined when the config maps nothing to it. */
export function commandForImage(images: EmulatorConfig['images'], ref: string, baseDir: string): ImageCommand | undefined {
  let best: string | undefined;
  for (const key of Object.keys(images)) {
    if (imageMatches(key, ref) && (best === undefined || key.length > best.length)) best = key;
  }
  if (best === undefined) return undefined;
  const entry = images[best] as EmulatorConfig['images'][string];
  if (ref.startsWith('dir:')) {
    const folder = ref.slice('dir:'.length);
    return { command: [...entry.command], cwd: path.resolve(folder, entry.cwd ?? '.'), env: { ...entry.env } };
  }
  return { command: [...entry.command], cwd: path.resolve(baseDir, entry.cwd ?? '.'), env: { ...entry.env } };
}

/** `gcr.io/p/chat` matches `gcr.io/p/chat:v2` and `gcr.io/p/chat@sha256:…` but not `gcr.io/p/chatbot`. */
export function imageMatches(key: string, ref: string): boolean {
  if (ref === key) return true;
  if (!ref.startsWith(key)) return false;
  if (/[:/@]$/.test(key)) return true;
  return /^[:/@]/.test(ref.slice(key.length));
}

/** A Secret Manager reference (`name`, `name:version`, `projects/P/secrets/NAME[/versions/V]`) → its value. */
export function secretValue(secrets: EmulatorConfig['secrets'], secret: string, version: string | undefined): string | undefined {
  const short = secret.replace(/^projects\/[^/]+\/secrets\//, '').replace(/\/versions\/.*$/, '');
  const v = version || secret.match(/\/versions\/([^/]+)$/)?.[1] || 'latest';
  for (const key of [`${secret}:${v}`, secret, `${short}:${v}`, short]) {
    const value = secrets[key];
    if (value !== undefined) return value;
  }
  return undefined;
}
