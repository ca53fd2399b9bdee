/**
 * Config schema for `target.kind: cloudrun`: where the service lives, the revision template fields
 * a deploy sets (the image comes from the build), smoke authentication, and an optional endpoint for
 * rehearsing against the local emulator. Kept apart from schema.ts, which imports it.
 */
import { z } from 'zod';
import { serviceNameSchema } from '../model/cloud-run-names.js';

const ms = (what: string) =>
  z.number({ error: `expected ${what} as a positive whole number of milliseconds` }).int().positive();

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name is letters, digits and underscores, not starting with a digit');

/** Cloud Run reserves these: setting them is rejected by the API, so reject them here first. */
const RESERVED_ENV = ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'];

const envMap = z
  .record(envName, z.string({ error: 'environment values must be strings (quote numbers)' }))
  .refine((env) => !Object.keys(env).some((k) => RESERVED_ENV.includes(k)), {
    error: `${RESERVED_ENV.join(', ')} are set by Cloud Run and may not be set here`,
  });

const secretRef = z
  .strictObject({
    name: envName.describe('Environment variable the secret value is exposed as.'),
    secret: z
      .string()
      .regex(
        /^(projects\/[^/]+\/secrets\/)?[A-Za-z0-9_-]{1,255}$/,
        'a secret is a Secret Manager secret id (api-key) or projects/PROJECT/secrets/ID',
      )
      .describe('Secret Manager secret: its id in the same project, or its full resource name.'),
    version: z
      .string()
      .regex(/^(latest|[1-9][0-9]*)$/, 'a secret version is "latest" or a version number')
      .default('latest')
      .describe('Secret version: "latest" or a version number.'),
  })
  .describe('An environment variable read from Secret Manager when the revision starts.');

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;

/** A valid key close to the one written ("Team Name" → "team-name"), for the error message. */
function labelKeyLike(key: string): string | undefined {
  const guess = key.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 63).replace(/-+$/, '');
  return LABEL_KEY.test(guess) ? guess : undefined;
}

const labelMap = z.record(
  z.string().regex(LABEL_KEY, {
    // zod reports a bad record key only as "Invalid key in record": name the key, the rule and a fix.
    error: (iss) => {
      const key = String(iss.input);
      const like = labelKeyLike(key);
      return `label key ${JSON.stringify(key)} is not valid: keys are lowercase letters, digits, _ and -, start with a letter, at most 63 characters${like ? ` (rename it, e.g. to "${like}")` : ''}`;
    },
  }),
  z.string().regex(/^[a-z0-9_-]{0,63}$/, 'a label value is lowercase letters, digits, _ and -, at most 63 characters'),
);

/** `"1"`, `"0.5"`, `"1000m"` → CPUs; undefined when unreadable. */
export function cpuCount(cpu: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(cpu);
  if (!m) return undefined;
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

/** `"512Mi"`, `"2Gi"` (also `M`, `G`) → MiB; undefined when unreadable. */
export function memoryMiB(memory: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Mi|Gi|M|G)$/.exec(memory);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'Gi' ? n * 1024 : m[2] === 'G' ? (n * 1e9) / 2 ** 20 : m[2] === 'M' ? (n * 1e6) / 2 ** 20 : n;
}

/** Memory each whole CPU count allows, in MiB (cloud.google.com/run/docs/configuring/services/cpu). */
const CPU_MEMORY: Record<number, [number, number]> = { 1: [128, 4096], 2: [128, 8192], 4: [2048, 16384], 6: [4096, 24576], 8: [4096, 32768] };

/**
 * Why Cloud Run would refuse this CPU / memory / concurrency combination for a service, one
 * sentence each (empty when it is accepted). Unset values are Cloud Run's defaults: 1 CPU, 512 MiB,
 * concurrency 80.
 */
export function resourceProblems(r: { cpu?: string | undefined; memory?: string | undefined; concurrency?: number | undefined }): string[] {
  const cpu = r.cpu === undefined ? 1 : cpuCount(r.cpu);
  const mem = r.memory === undefined ? 512 : memoryMiB(r.memory);
  if (cpu === undefined || mem === undefined) return [];
  const out: string[] = [];
  const gi = (mib: number) => (mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`);
  if (cpu < 0.08 || cpu > 8) out.push(`cpu ${r.cpu}: Cloud Run allows 0.08 to 8 CPUs`);
  else if (cpu < 1) {
    if (Math.abs(cpu * 1000 - Math.round(cpu * 1000)) > 1e-9) out.push(`cpu ${r.cpu}: below 1 CPU, Cloud Run takes steps of 0.001`);
    if (mem > 1024) out.push(`memory ${r.memory ?? '512Mi'} needs at least 1 CPU (cpu is ${r.cpu})`);
    else if (mem > 512 && cpu < 0.5) out.push(`memory ${r.memory ?? '512Mi'} (more than 512 MiB) needs at least 0.5 CPU (cpu is ${r.cpu})`);
    if (r.concurrency !== 1) out.push(`below 1 CPU, Cloud Run needs concurrency: 1 (it is ${r.concurrency ?? "80, Cloud Run's default"})`);
  } else if (!Number.isInteger(cpu) || !CPU_MEMORY[cpu]) {
    out.push(`cpu ${r.cpu}: above 1, Cloud Run takes 1, 2, 4, 6 or 8 CPUs`);
  } else {
    const [lo, hi] = CPU_MEMORY[cpu] as [number, number];
    if (mem < lo || mem > hi) out.push(`memory ${r.memory ?? '512Mi'}: with ${cpu} CPU${cpu > 1 ? 's' : ''} Cloud Run needs ${gi(lo)} to ${gi(hi)}`);
  }
  return out;
}

export const INGRESS = {
  all: 'INGRESS_TRAFFIC_ALL',
  internal: 'INGRESS_TRAFFIC_INTERNAL_ONLY',
  'internal-and-cloud-load-balancing': 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER',
} as const;

export const VPC_EGRESS = {
  'all-traffic': 'ALL_TRAFFIC',
  'private-ranges-only': 'PRIVATE_RANGES_ONLY',
} as const;

/**
 * `traffic.afterPromote`, for the traffic section of the config (schema.ts): what the split names
 * once a candidate was promoted.
 */
export const afterPromoteSchema = z
  .enum(['pinned', 'latest'], { error: 'expected traffic.afterPromote: pinned or latest' })
  .default('pinned')
  .describe(
    "What the split names after a promotion. pinned: the promoted revision by name, so a later plain `gcloud run deploy` (or the console) creates a revision that gets 0% until traffic is moved. latest: Cloud Run's LATEST at 100% (as `gcloud run services update-traffic --to-latest`), so such deploys get all the traffic at once, unsmoked. deploy-loop's own candidates get 0% either way.",
  );
export type AfterPromote = z.output<typeof afterPromoteSchema>;

export const cloudRunTargetSchema = z
  .strictObject({
    kind: z.literal('cloudrun').describe('Google Cloud Run (Admin API v2).'),
    project: z
      .string({ error: 'expected the Google Cloud project id' })
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a project id is 6-30 lowercase letters, digits and dashes, starting with a letter')
      .describe('Project id (not the number).'),
    region: z
      .string({ error: 'expected a Cloud Run region, e.g. us-central1' })
      .regex(/^[a-z]+(-[a-z]+)+[0-9]+$/, 'a region looks like us-central1 or europe-west4')
      .describe('Cloud Run region of the service, e.g. us-central1.'),
    service: serviceNameSchema
      .optional()
      .describe('Cloud Run service name; defaults to the top-level `service`.'),
    env: envMap.default({}).describe('Plain environment variables of the container.'),
    envStrategy: z
      .enum(['merge', 'replace'], { error: 'expected envStrategy: merge or replace' })
      .default('merge')
      .describe('merge: variables already set on the service (by gcloud, the console) are kept and those in env/secrets override them, as gcloud --update-env-vars. replace: the container env is exactly env and secrets, as --set-env-vars.'),
    secrets: z.array(secretRef).default([]).describe('Environment variables from Secret Manager; values never pass through deploy-loop.'),
    cpu: z
      .string({ error: 'expected cpu as a string, e.g. "1" or "1000m"' })
      .regex(/^([0-9]+(\.[0-9]+)?|[0-9]+m)$/, 'cpu is a number of CPUs ("1", "2") or millicpu ("1000m")')
      .optional()
      .describe('CPU limit per instance; Cloud Run\'s default when unset.'),
    memory: z
      .string({ error: 'expected memory as a string, e.g. 512Mi' })
      .regex(/^[0-9]+(Mi|Gi)$/, 'memory is a size in Mi or Gi, e.g. 512Mi or 2Gi')
      .optional()
      .describe('Memory limit per instance; Cloud Run\'s default when unset.'),
    concurrency: z.number().int().min(1).max(1000).optional().describe('Maximum concurrent requests per instance.'),
    minInstances: z.number().int().min(0).max(1000).optional().describe('Instances kept warm; Cloud Run\'s default (0) when unset.'),
    maxInstances: z.number().int().min(1).max(1000).optional().describe('Upper bound on instances; Cloud Run\'s default when unset.'),
    timeoutSeconds: z
      .number({ error: 'expected timeoutSeconds as a whole number of seconds, 1 to 3600' })
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe("Request timeout of the revision, in seconds (Cloud Run's default when unset: 300, or what the service has). Cloud Run also closes a WebSocket stream when it runs out, so a service with long-lived sockets needs it as long as a stream must stay open."),
    sessionAffinity: z
      .boolean({ error: 'expected sessionAffinity: true or false' })
      .optional()
      .describe("Send a client's requests to the same instance where possible (best effort, by cookie); helps WebSocket clients that reconnect. Unset: left as the service has it."),
    containerPort: z.number().int().min(1).max(65535).optional().describe('Port the container listens on ($PORT); Cloud Run defaults to 8080.'),
    portName: z
      .enum(['http1', 'h2c'], { error: 'expected portName: http1 or h2c' })
      .optional()
      .describe("Protocol Cloud Run speaks to the container: http1, or h2c (HTTP/2 end-to-end, as gcloud --use-http2). Unset: the port name the service already has is kept (an h2c service stays h2c), http1 for a new one."),
    serviceAccount: z
      .string()
      .regex(/^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$|^[^@\s]+@developer\.gserviceaccount\.com$/, 'a service account is an email ending in .iam.gserviceaccount.com')
      .optional()
      .describe('Runtime identity of the revision.'),
    ingress: z.enum(Object.keys(INGRESS) as [keyof typeof INGRESS, ...Array<keyof typeof INGRESS>]).optional()
      .describe('Who may reach the service: all, internal, or internal-and-cloud-load-balancing.'),
    vpcConnector: z
      .string()
      .regex(/^(projects\/[^/]+\/locations\/[^/]+\/connectors\/)?[a-z][-a-z0-9]{0,23}[a-z0-9]$/, 'a VPC connector is its name or projects/P/locations/L/connectors/NAME')
      .optional()
      .describe('Serverless VPC Access connector for outbound traffic.'),
    vpcEgress: z.enum(Object.keys(VPC_EGRESS) as [keyof typeof VPC_EGRESS, ...Array<keyof typeof VPC_EGRESS>]).optional()
      .describe('Which outbound traffic goes through the VPC connector.'),
    labels: labelMap.default({}).describe('Labels on the service and its revisions.'),
    access: z
      .enum(['private', 'public'], { error: 'expected target.access: private or public' })
      .optional()
      .describe('Who may call the service URL. private: only callers with roles/run.invoker (smoke checks then need auth.idToken: true); public: anyone. Unset: left as it is (Cloud Run creates services private).'),
    publicVia: z
      .enum(['invoker-iam-disabled', 'iam-policy'], { error: 'expected target.publicVia: invoker-iam-disabled or iam-policy' })
      .default('invoker-iam-disabled')
      .describe('How access: public is made: invoker-iam-disabled sets the service\'s invokerIamDisabled (needs only run.services.update); iam-policy binds allUsers to roles/run.invoker (needs run.services.setIamPolicy, and an organisation may forbid allUsers).'),
    auth: z
      .strictObject({
        idToken: z.boolean().default(false).describe('Send a Google ID token for the service URL with every smoke request (private services).'),
      })
      .prefault({})
      .describe('How smoke checks authenticate to the service.'),
    endpoint: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').describe('Host of the Admin API endpoint.'),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .optional()
          .describe('gRPC port of a running emulator; with `emulator`, the port to start it on (default: any free one).'),
        insecure: z.literal(true, { error: 'only insecure: true is supported (the local emulator speaks plain gRPC)' }).describe('Plain gRPC without TLS (the local emulator).'),
        emulator: z
          .strictObject({
            config: z.string().min(1).describe('The emulator config (emulator.yaml), relative to this file.'),
          })
          .optional()
          .describe('Start an embedded emulator for the run and stop it afterwards, instead of connecting to one.'),
      })
      .refine((e) => e.emulator !== undefined || (e.port !== undefined && e.port > 0), {
        error: 'endpoint needs the port of a running emulator, or `emulator: { config: FILE }` to start one',
        path: ['port'],
      })
      .optional()
      .describe('Talk to this Cloud Run Admin API instead of Google (the local emulator), with no credentials.'),
    operationTimeoutMs: ms('operationTimeoutMs').default(600_000).describe('Longest wait for one deploy or traffic operation.'),
  })
  .refine((c) => c.minInstances === undefined || c.maxInstances === undefined || c.minInstances <= c.maxInstances, {
    error: 'minInstances may not exceed maxInstances',
    path: ['minInstances'],
  })
  .superRefine((c, ctx) => {
    for (const message of resourceProblems(c)) {
      ctx.addIssue({ code: 'custom', path: [message.startsWith('memory') ? 'memory' : message.startsWith('cpu') ? 'cpu' : 'concurrency'], message });
    }
  })
  .describe('Google Cloud Run through the Admin API v2, or the local emulator through `endpoint`.');

export type CloudRunTargetConfig = z.output<typeof cloudRunTargetSchema>;
export type CloudRunTargetInput = z.input<typeof cloudRunTargetSchema>;
