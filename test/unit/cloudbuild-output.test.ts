/**
 * Reading image builders' output: the step a build failed in (podman, Docker, BuildKit, Cloud Build),
 * and the digest a push reported. Also the config schema of the image builders.
 */
import { describe, expect, it } from 'vitest';
import {
  describeStep,
  findPushedDigest,
  parseStepLine,
  pickRepoDigest,
  StepTracker,
} from '../../src/build/build-output.js';
import { isLocalRegistry, resolveEngine, tlsFlags } from '../../src/build/container-engine.js';
import { buildSchema, targetSchema } from '../../src/config/schema.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

describe('parseStepLine', () => {
  it.each([
    { what: 'podman / buildah', line: 'STEP 6/10: RUN ["node", "scripts/check.mjs"]', step: { index: 6, total: 10, text: 'RUN ["node", "scripts/check.mjs"]' } },
    { what: 'docker legacy builder', line: 'Step 2/3 : RUN npm ci', step: { index: 2, total: 3, text: 'RUN npm ci' } },
    { what: 'BuildKit with a stage name', line: '#9 [build 3/5] RUN npm ci', step: { index: 3, total: 5, text: 'RUN npm ci' } },
    { what: 'BuildKit without a stage', line: '#7 [2/4] COPY . .', step: { index: 2, total: 4, text: 'COPY . .' } },
    { what: 'an ordinary output line', line: 'check: 3 modules parse', step: undefined },
    { what: 'a BuildKit internal step', line: '#1 [internal] load build definition from Dockerfile', step: undefined },
  ])('$what', ({ line, step }) => {
    expect(parseStepLine(line)).toEqual(step);
  });
});

describe('StepTracker', () => {
  it('blames the last Dockerfile step that started, not earlier ones', () => {
    const t = new StepTracker();
    for (const line of ['STEP 1/3: FROM base', '--> abc', 'STEP 2/3: RUN ["node", "check.mjs"]', 'SyntaxError: Unexpected token'])
      t.push(line);
    expect(t.current()).toEqual({ index: 2, total: 3, text: 'RUN ["node", "check.mjs"]' });
  });

  it('looks inside Cloud Build step prefixes and prefers the Dockerfile step over the Cloud Build step', () => {
    const t = new StepTracker();
    t.push('Step #0 - "build": Step 3/4 : RUN npm test');
    t.push('Step #0 - "build": npm ERR! test failed');
    expect(describeStep(t.current()!)).toBe('step 3/4 (RUN npm test)');
  });

  it('falls back to the Cloud Build step when no Dockerfile step was seen', () => {
    const t = new StepTracker();
    t.push('Step #1: Already have image: gcr.io/cloud-builders/gcloud');
    expect(describeStep(t.current()!)).toBe('Cloud Build step #1');
  });

  it('knows no step before any step line', () => {
    const t = new StepTracker();
    t.push('Error: no such file Dockerfile');
    expect(t.current()).toBeUndefined();
  });
});

describe('findPushedDigest', () => {
  it('reads the last `TAG: digest: … size: N` line', () => {
    expect(findPushedDigest(['c001: digest: ' + D1 + ' size: 1234', 'c001: digest: ' + D2 + ' size: 99', 'DONE'])).toBe(D2);
  });
  it('reads a JSON digest field', () => {
    expect(findPushedDigest(['{"name": "x", "digest": "' + D1 + '"}'])).toBe(D1);
  });
  it('ignores image ids and short digests', () => {
    expect(findPushedDigest(['Copying config sha256:3d7627d6358a', 'digest: sha256:abc size: 1'])).toBeUndefined();
  });
});

describe('pickRepoDigest', () => {
  it('picks the digest of the pushed repository among several', () => {
    const list = [`other.io/x/chat@${D1}`, `127.0.0.1:5000/chat@${D2}`];
    expect(pickRepoDigest(list, '127.0.0.1:5000/chat')).toBe(D2);
    expect(pickRepoDigest(list, '127.0.0.1:5000/other')).toBeUndefined();
  });
});

describe('engine invocation', () => {
  it('points podman at the engine state folder when DEPLOY_LOOP_ENGINE_DIR is set', () => {
    const e = resolveEngine('podman', { DEPLOY_LOOP_ENGINE_DIR: '/s' });
    expect(e.argv).toEqual(['podman', '--root', '/s/storage', '--runroot', '/s/runroot']);
    expect(e.env).toEqual({ CONTAINERS_CONF: '/s/containers.conf' });
  });
  it('uses the engine defaults without it, and docker always', () => {
    expect(resolveEngine('podman', {}).argv).toEqual(['podman']);
    expect(resolveEngine('docker', { DEPLOY_LOOP_ENGINE_DIR: '/s' }).argv).toEqual(['docker']);
  });
  it.each([
    ['127.0.0.1:5000/chat@' + D1, true],
    ['localhost:5000/chat', true],
    ['127.10.0.3/x', true],
    ['europe-docker.pkg.dev/p/r/chat', false],
    ['127.0.0.1.example.com/x', false],
  ])('%s is a local registry: %s', (ref, local) => {
    expect(isLocalRegistry(ref)).toBe(local);
  });
  it('skips TLS checks for podman on local registries unless told, never adds the flag for docker', () => {
    const podman = resolveEngine('podman', {});
    expect(tlsFlags(podman, '127.0.0.1:5000/x', undefined)).toEqual(['--tls-verify=false']);
    expect(tlsFlags(podman, '127.0.0.1:5000/x', true)).toEqual([]);
    expect(tlsFlags(podman, 'gcr.io/p/x', undefined)).toEqual([]);
    expect(tlsFlags(podman, 'my.registry:5000/x', false)).toEqual(['--tls-verify=false']);
    expect(tlsFlags(resolveEngine('docker', {}), '127.0.0.1:5000/x', false)).toEqual([]);
  });
});

describe('image builder config', () => {
  it('fills the defaults of a podman build', () => {
    const cfg = buildSchema.parse({ kind: 'podman', registry: '127.0.0.1:5000', image: 'chat-service' });
    expect(cfg).toMatchObject({ context: '.', dockerfile: 'Dockerfile', buildArgs: {}, buildContexts: {}, flags: [], timeoutMs: 600_000 });
  });
  it.each([
    { what: 'a tag in the image name', input: { kind: 'docker', registry: 'r.io', image: 'chat:latest' } },
    { what: 'a scheme in the registry', input: { kind: 'docker', registry: 'https://r.io', image: 'chat' } },
    { what: 'capitals in the image name', input: { kind: 'podman', registry: 'r.io', image: 'Chat' } },
    { what: 'a cloudbuild image with a digest', input: { kind: 'cloudbuild', image: `gcr.io/p/chat@${D1}` } },
    { what: 'a cloudbuild image with no registry', input: { kind: 'cloudbuild', image: 'chat' } },
  ])('rejects $what', ({ input }) => {
    expect(buildSchema.safeParse(input).success).toBe(false);
  });
});

describe('local target runtime config', () => {
  it('runs the image CMD with runtime: container, so no command is needed', () => {
    const cfg = targetSchema.parse({ kind: 'local', runtime: 'container', container: { engine: 'docker' } });
    expect(cfg).toMatchObject({ runtime: 'container', container: { engine: 'docker', publishHost: '127.0.0.1', port: 8080 } });
  });
  it('still requires the command for process revisions, the default runtime', () => {
    const res = targetSchema.safeParse({ kind: 'local' });
    expect(res.success).toBe(false);
    expect(res.error?.issues.map((i) => i.path.join('.'))).toEqual(['command']);
  });
  it('rejects an unknown engine', () => {
    expect(targetSchema.safeParse({ kind: 'local', runtime: 'container', container: { engine: 'lxc' } }).success).toBe(false);
  });
});

describe('describeStep and secrets', () => {
  it('redacts a secret in a long step before cutting it, so no prefix of it is left', () => {
    const token = 'ghp_' + 'A'.repeat(36);
    const text = `RUN ${'x'.repeat(110)} curl -H "Authorization: Bearer ${token}" https://example.test`;
    const shown = describeStep({ index: 2, total: 5, text });
    expect(shown).not.toContain('ghp_');
    expect(shown).not.toContain('AAAA');
    expect(shown.length).toBeLessThanOrEqual('step 2/5 ()'.length + 160);
  });
});
