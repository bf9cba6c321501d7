// Build step (`npm run build` runs it after tsc): bundles the decision program,
// dist/src/wrapper/main.js and every module it imports, into one CommonJS file,
// dist/src/wrapper/qgreylist.cjs, which bin/qgreylist runs once per SMTP connection.
//
// Why: Node's ESM loader, the resolution and reading of ten small files and the ESM facade
// of each builtin cost a Node start-up ~60% over bare `node -e 0`; one CommonJS file brings
// it to ~25% (bench/wrapper.bench.ts measures both). Builtins other than node:fs are
// required only when first called, so the wrapper never loads node:child_process.
//
// It is also the place that enforces the wrapper's import rule: a bare (npm) import, an
// import of the admin CLI's code (cli, commands, actions, render), an import cycle, or a
// construct this small converter does not handle fails the build with one clear line.
//
// The converter works on tsc's ESM output, whose shapes are regular: one-line
// `import { a, b as c } from './x.js';`, `import * as X from '…'`, `export function|class|
// const NAME`, `export { a, b as c };`, and `import('./x.js')` for lazy loading.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ENTRY = 'wrapper/main.js';
export const OUTPUT = 'wrapper/qgreylist.cjs';
const FORBIDDEN = /^(?:cli\.js|commands\/|actions\/|render\/)/;

export class BundleError extends Error {}

interface Module {
  readonly id: string;
  readonly code: string;
  readonly deps: readonly string[];
}

const IMPORT = /^import\s+(.+?)\s+from\s+(['"])([^'"]+)\2;?[ \t]*$/gm;
const BARE_IMPORT = /^import\s+(['"])([^'"]+)\1;?[ \t]*$/gm;
const DYNAMIC = /\bimport\((['"])([^'"]+)\1\)/g;
const EXPORT_DECL = /^export\s+(async\s+function\*?|function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm;
const EXPORT_LIST = /^export\s*\{([^}]*)\};?[ \t]*$/gm;

const hostRequire = createRequire(import.meta.url);

function resolveId(from: string, spec: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const p of spec.split('/')) {
    if (p === '..') {
      if (parts.length === 0) throw new BundleError(`${from}: import ${spec} leaves the source tree`);
      parts.pop();
    } else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/** `a, b as c` -> `a, b: c` (the destructuring form). */
function bindings(list: string, where: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$/.exec(s);
      if (!m) throw new BundleError(`${where}: cannot bundle the import/export item ${JSON.stringify(s)}`);
      return m[2] === undefined ? m[1]! : `${m[1]}: ${m[2]}`;
    });
}

function builtinBinding(spec: string, item: string): string {
  // `a` or `a: b`; node:fs is loaded anyway, the others only when a function is first called
  const [name, local] = item.includes(':') ? item.split(':').map((s) => s.trim()) : [item, item];
  const mod = hostRequire(spec) as Record<string, unknown>;
  if (!(name! in mod)) throw new BundleError(`${spec} has no export ${name}`);
  if (spec === 'node:fs' || typeof mod[name!] !== 'function') return `const ${local} = require(${JSON.stringify(spec)}).${name};`;
  return `const ${local} = (...a) => require(${JSON.stringify(spec)}).${name}(...a);`;
}

/** Convert one tsc ESM module to the body of a CommonJS-style factory. */
export function convert(id: string, src: string): Module {
  const deps: string[] = [];
  const exported: string[] = [];
  const dep = (spec: string): string | null => {
    if (spec.startsWith('node:')) return null;
    if (!spec.startsWith('.')) throw new BundleError(`${id}: imports ${JSON.stringify(spec)}: the decision program may import no npm package`);
    const target = resolveId(id, spec);
    if (FORBIDDEN.test(target)) throw new BundleError(`${id}: imports ${target}: the decision program may not import the admin CLI's code`);
    deps.push(target);
    return target;
  };
  let code = src.replace(IMPORT, (_all, clause: string, _q, spec: string) => {
    const target = dep(spec);
    const c = clause.trim();
    if (c.startsWith('{')) {
      const items = bindings(c.slice(1, c.lastIndexOf('}')), id);
      if (target === null) return items.map((it) => builtinBinding(spec, it)).join(' ');
      return `const { ${items.join(', ')} } = __load(${JSON.stringify(target)});`;
    }
    const ns = /^\*\s+as\s+([A-Za-z_$][\w$]*)$/.exec(c);
    if (ns) return `const ${ns[1]} = ${target === null ? `require(${JSON.stringify(spec)})` : `__load(${JSON.stringify(target)})`};`;
    throw new BundleError(`${id}: cannot bundle the import ${JSON.stringify(c)} (default imports are not used in qgrey)`);
  });
  code = code.replace(BARE_IMPORT, (_all, _q, spec: string) => {
    const target = dep(spec);
    return target === null ? `require(${JSON.stringify(spec)});` : `__load(${JSON.stringify(target)});`;
  });
  code = code.replace(DYNAMIC, (_all, _q, spec: string) => {
    const target = dep(spec);
    return target === null ? `Promise.resolve().then(() => require(${JSON.stringify(spec)}))` : `Promise.resolve().then(() => __load(${JSON.stringify(target)}))`;
  });
  code = code.replace(EXPORT_DECL, (_all, kind: string, name: string) => {
    if (kind === 'let' || kind === 'var') throw new BundleError(`${id}: exports a mutable binding ${name}; make it const`);
    exported.push(`${name}: ${name}`);
    return kind + ' ' + name;
  });
  code = code.replace(EXPORT_LIST, (_all, list: string) => {
    for (const b of bindings(list, id)) {
      const [local, name] = b.includes(':') ? b.split(':').map((s) => s.trim()) : [b, b];
      exported.push(`${name}: ${local}`);
    }
    return '';
  });
  for (const [re, what] of [
    [/^export\s/m, 'an export form'],
    [/^import\s/m, 'an import form'],
    [/\bimport\.meta\b/, 'import.meta'],
    [/\bimport\(/, 'a computed import()'],
  ] as const) {
    if (re.test(code)) throw new BundleError(`${id}: cannot bundle ${what}: ${JSON.stringify(re.exec(code)![0])}`);
  }
  code = code.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  return { id, code: `${code}\nObject.assign(exports, { ${exported.join(', ')} });`, deps };
}

/** Bundle `entry` (relative to `distSrc`, the tsc output for src/) and everything it imports. */
export function bundle(distSrc: string, entry = ENTRY): string {
  const mods = new Map<string, Module>();
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, chain: string[]) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new BundleError(`import cycle: ${[...chain, id].join(' -> ')}`);
    state.set(id, 'visiting');
    let src: string;
    try {
      src = readFileSync(join(distSrc, id), 'utf8');
    } catch (err) {
      throw new BundleError(`unable to read ${join(distSrc, id)}: ${(err as Error).message}`);
    }
    const m = convert(id, src);
    mods.set(id, m);
    for (const d of m.deps) visit(d, [...chain, id]);
    state.set(id, 'done');
    order.push(id);
  };
  visit(entry, []);
  let out = `'use strict';
// GENERATED by dist/src/wrapper/bundle.js from ${order.length} modules of dist/src; do not edit.
// qgreylist's decision program as one CommonJS file (see src/wrapper/bundle.ts).
const __factories = {
`;
  for (const id of order) out += `${JSON.stringify(id)}: function (exports) {\n'use strict';\n${mods.get(id)!.code}\n},\n`;
  out += `};
const __modules = {};
function __load(id) {
  let m = __modules[id];
  if (m === undefined) {
    m = __modules[id] = {};
    __factories[id](m);
  }
  return m;
}
__load(${JSON.stringify(entry)});
`;
  return out;
}

/** Write the bundle next to the modules it came from (temp + rename). */
export function writeBundle(distSrc: string): string {
  const target = join(distSrc, OUTPUT);
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, bundle(distSrc));
  renameSync(tmp, target);
  return target;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const distSrc = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    const out = writeBundle(distSrc);
    process.stdout.write(`bundle: wrote ${relative(process.cwd(), out).split(sep).join('/')}\n`);
  } catch (err) {
    process.stderr.write(`bundle: fatal: ${err instanceof BundleError ? err.message : String(err)}\n`);
    process.exitCode = 111;
  }
}
