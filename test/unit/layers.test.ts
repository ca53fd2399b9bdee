/**
 * The layers of src/ (docs/design.md): imports run one way. model/ imports only zod; report/
 * imports no stage folder; nothing imports the CLI; there is no import circle (type-only imports
 * count: a circle of types is still a tangle); and no function in src/loop/ is over 60 lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

interface Edge {
  from: string;
  to: string;
}

/** Every import and re-export of every file, as src-relative paths (packages as their names). */
function importGraph(): { files: string[]; edges: Edge[]; packages: Map<string, Set<string>> } {
  const files = sourceFiles(SRC).map((f) => relative(SRC, f));
  const edges: Edge[] = [];
  const packages = new Map<string, Set<string>>();
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(join(SRC, file), 'utf8'), ts.ScriptTarget.Latest, false);
    const specs: string[] = [];
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) specs.push(node.arguments[0].text);
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) specs.push(node.argument.literal.text);
      ts.forEachChild(node, visit);
    };
    visit(sf);
    for (const spec of specs) {
      if (spec.startsWith('.')) edges.push({ from: file, to: relative(SRC, resolve(SRC, dirname(file), spec)).replace(/\.js$/, '.ts') });
      else packages.set(file, (packages.get(file) ?? new Set()).add(spec));
    }
  }
  return { files, edges, packages };
}

const folder = (file: string): string => (file.includes('/') ? (file.split('/')[0] ?? '.') : '.');
const STAGES = ['build', 'deploy', 'traffic', 'smoke', 'loop', 'cli', 'emulator', 'runtime'];

describe('layers', () => {
  const { files, edges, packages } = importGraph();

  it('model/ imports only zod and itself', () => {
    const bad = [
      ...edges.filter((e) => folder(e.from) === 'model' && folder(e.to) !== 'model').map((e) => `${e.from} → ${e.to}`),
      ...[...packages].filter(([f]) => folder(f) === 'model').flatMap(([f, ps]) => [...ps].filter((p) => p !== 'zod').map((p) => `${f} → ${p}`)),
    ];
    expect(bad).toEqual([]);
  });

  it('report/ imports no stage folder', () => {
    const bad = edges.filter((e) => folder(e.from) === 'report' && STAGES.includes(folder(e.to))).map((e) => `${e.from} → ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('config/ imports only model/ and the shared modules at the top', () => {
    const bad = edges.filter((e) => folder(e.from) === 'config' && !['config', 'model', '.'].includes(folder(e.to))).map((e) => `${e.from} → ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('only the CLI imports the CLI', () => {
    const bad = edges.filter((e) => (e.to === 'cli.ts' || folder(e.to) === 'cli') && folder(e.from) !== 'cli' && e.from !== 'cli.ts').map((e) => `${e.from} → ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('has no import circle, type-only imports included', () => {
    const out = new Map<string, string[]>(files.map((f) => [f, []]));
    for (const e of edges) out.get(e.from)?.push(e.to);
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const walk = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of out.get(f) ?? []) {
        if (state.get(t) === 'open') circles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
        else if (!state.has(t)) walk(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) walk(f);
    expect(circles).toEqual([]);
  });

  it('no function in src/loop/ is over 60 lines', () => {
    const long: string[] = [];
    for (const file of files.filter((f) => folder(f) === 'loop')) {
      const sf = ts.createSourceFile(file, readFileSync(join(SRC, file), 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const lines = sf.getLineAndCharacterOfPosition(node.getEnd()).line - sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
          const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
          if (lines > 60) long.push(`${file}: ${name} (${lines} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    expect(long).toEqual([]);
  });

  it('finds the imports it checks (the walk is not vacuous)', () => {
    expect(edges.some((e) => e.from === 'loop/cycle.ts' && e.to === 'loop/cycle-steps.ts')).toBe(true);
    expect(packages.get('model/record.ts')?.has('zod')).toBe(true);
  });
});
