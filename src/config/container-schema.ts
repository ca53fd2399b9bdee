/**
 * Config schema for real container images: the `podman`, `docker` and `cloudbuild` builders, and the
 * local target's container runtime. Kept apart from schema.ts, which imports these; the small helpers
 * are repeated here rather than imported so the two modules do not import each other.
 */
import { z } from 'zod';

const ms = (what: string) =>
  z.number({ error: `expected ${what} as a positive whole number of milliseconds` }).int().positive();

const envMap = z.record(z.string(), z.string({ error: 'environment values must be strings (quote numbers)' }));

export const ENGINES = ['podman', 'docker'] as const;
export type EngineKind = (typeof ENGINES)[number];

const engine = z.enum(ENGINES, { error: 'expected engine: podman or docker' });

/** One path component rule of the OCI distribution spec, joined by slashes. */
const imageName = z
  .string({ error: 'expected an image name, e.g. chat-service' })
  .regex(
    /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
    'an image name is lowercase letters, digits and separators (. _ -), in path parts joined by "/", with no tag',
  );

const registry = z
  .string({ error: 'expected a registry, e.g. 127.0.0.1:5000 or europe-docker.pkg.dev/PROJECT/REPO' })
  .regex(/^[a-zA-Z0-9.-]+(?::\d+)?(?:\/[a-z0-9._-]+)*$/, 'a registry is HOST[:PORT][/PATH], without a scheme, tag or trailing slash');

const BUILD_CONTEXT_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

/** A valid name close to the one written ("Shared Libs" → "shared-libs"), for the error message. */
function buildContextNameLike(name: string): string | undefined {
  const guess = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '');
  return BUILD_CONTEXT_NAME.test(guess) ? guess : undefined;
}

const contextFields = {
  context: z.string().min(1).default('.').describe('Build context folder, relative to the config file.'),
  timeoutMs: ms('timeoutMs').default(600_000).describe('Longest the build (and push) may take.'),
};

const engineBuildFields = {
  ...contextFields,
  registry: registry.describe('Where images are pushed. The revision is deployed by the pushed digest, never by tag.'),
  image: imageName.describe('Image name under the registry; each build is also tagged c<cycle>.'),
  dockerfile: z.string().min(1).default('Dockerfile').describe('Relative to the context folder.'),
  buildArgs: envMap.default({}).describe('--build-arg NAME=VALUE for each entry.'),
  buildContexts: z
    .record(
      z.string().regex(BUILD_CONTEXT_NAME, {
        // zod reports a bad record key only as "Invalid key in record": name the key, the rule and a fix.
        error: (iss) => {
          const name = String(iss.input);
          const like = buildContextNameLike(name);
          return `build context name ${JSON.stringify(name)} is not valid: names are lowercase letters, digits, ., _ and -, start with a letter or digit${like ? ` (rename it here and in COPY --from, e.g. to "${like}")` : ''}`;
        },
      }),
      z.string().min(1),
    )
    .default({})
    .describe('Named build contexts (--build-context NAME=PATH), paths relative to the config file; used by COPY --from=NAME.'),
  flags: z.array(z.string()).default([]).describe('Extra flags for the build command, e.g. [--platform, linux/amd64].'),
  env: envMap.default({}).describe('Environment of the engine commands (not of the image).'),
};

export const podmanBuildSchema = z
  .strictObject({
    kind: z.literal('podman').describe('Build and push with podman.'),
    ...engineBuildFields,
    tlsVerify: z
      .boolean()
      .optional()
      .describe('TLS checks when pushing and pulling. Default: off for a registry on localhost or 127.0.0.1 (as Docker does), on elsewhere.'),
  })
  .describe('podman build, then podman push; the digest comes from push --digestfile.');

export const dockerBuildSchema = z
  .strictObject({
    kind: z.literal('docker').describe('Build and push with docker.'),
    ...engineBuildFields,
    buildx: z
      .boolean()
      .default(false)
      .describe('Build and push in one step with `docker buildx build --push` (flags such as --platform, --cache-from go in flags).'),
  })
  .describe('docker build, then docker push; the digest comes from the push output or the image RepoDigests.');

export const cloudBuildSchema = z
  .strictObject({
    kind: z.literal('cloudbuild').describe('Build with Google Cloud Build (gcloud builds submit).'),
    ...contextFields,
    image: z
      .string({ error: 'expected the full image name, e.g. europe-docker.pkg.dev/PROJECT/REPO/chat-service' })
      .regex(/^[a-zA-Z0-9.-]+(?::\d+)?(?:\/[a-z0-9._-]+)+$/, 'the image is REGISTRY/PATH/NAME, without a tag or digest')
      .describe('Full image name without a tag, e.g. europe-docker.pkg.dev/PROJECT/REPO/NAME; each build is tagged c<cycle>.'),
    project: z.string().min(1).optional().describe('--project; defaults to gcloud\'s configured project.'),
    region: z.string().min(1).optional().describe('--region of the build; defaults to the global pool.'),
    flags: z.array(z.string()).default([]).describe('Extra flags for `gcloud builds submit`.'),
  })
  .describe('gcloud builds submit --async --tag IMAGE:c<cycle> CONTEXT, then gcloud builds describe until the build ends; the digest comes from its results.images (no log-streaming rights needed).');

/** Added to build.kind's discriminated union in schema.ts. */
export const containerBuildSchemas = [podmanBuildSchema, dockerBuildSchema, cloudBuildSchema] as const;

export type PodmanBuildConfig = z.output<typeof podmanBuildSchema>;
export type DockerBuildConfig = z.output<typeof dockerBuildSchema>;
export type EngineBuildConfig = PodmanBuildConfig | DockerBuildConfig;
export type CloudBuildConfig = z.output<typeof cloudBuildSchema>;

/** target.local.container: how the local target runs a revision's image. */
export const localContainerSchema = z
  .strictObject({
    engine: engine.default('podman').describe('The container engine that runs the revisions.'),
    publishHost: z.literal('127.0.0.1').default('127.0.0.1').describe('Host address the container port is published on.'),
    port: z.number().int().min(1).max(65535).default(8080).describe('Port the service listens on inside the container; set as PORT.'),
    tlsVerify: z.boolean().optional().describe('podman: TLS checks when pulling. Default: off for localhost/127.0.0.1 registries.'),
  });

export type LocalContainerConfig = z.output<typeof localContainerSchema>;
