// @ts-check
// The architecture rule, enforced (run by `npm run lint`; README "Layout"). Every workspace package declares
// its layer in package.json (`"mp-otel": { "layer": N }`), and:
//  - runtime code (src/, bin/, files named in package.json's exports/bin) imports only workspace packages of
//    a lower layer, and only packages its `dependencies` (or peer/optional dependencies) declare;
//  - development code (tests, build scripts) imports only packages in its dependencies + devDependencies
//    (or the root package's devDependencies: the shared tooling such as vitest);
//  - no import leaves its package by a relative path, and no runtime path does (`../../..`, a
//    `new URL('..', import.meta.url)` or path.join/resolve of the file's folder with `..` segments);
//  - the workspace graph over dependencies + devDependencies has no cycle (peerDependencies are not edges:
//    a loader may peer-depend on what it loads).
// Node's builtins are always allowed. Exit code 1 and one `file:line: [rule] message` line per violation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * @typedef {{ file: string, line: number, rule: string, message: string }} Violation
 * @typedef {{
 *   name: string, dir: string, manifest: string, layer: number | undefined, bundled: boolean,
 *   dependencies: Record<string, string>, devDependencies: Record<string, string>,
 *   peerDependencies: Record<string, string>, optionalDependencies: Record<string, string>,
 *   entryFiles: Set<string>,
 * }} Workspace
 * @typedef {{ specifier: string, line: number, resolveOnly: boolean }} ImportRef
 * @typedef {{ target: string, line: number, text: string }} PathRef
 */

export const RULES = {
  layer: 'layer',
  upward: 'upward-import',
  escape: 'leaves-package',
  undeclared: 'undeclared-import',
  cycle: 'workspace-cycle',
};

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'miniprogram_dist', '_build', '.data', 'coverage']);
const CODE_FILE = /\.(?:[cm]?[jt]s|tsx|jsx)$/;
const BUILTINS = new Set(builtinModules);

/** @param {string} file */
function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The workspace folders the root package.json lists (a trailing `/*` expands to its sub-folders). */
function workspaceDirs(/** @type {string} */ root, /** @type {string[]} */ patterns) {
  /** @type {string[]} */
  const dirs = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = join(root, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent).sort()) {
        if (existsSync(join(parent, entry, 'package.json'))) dirs.push(join(parent, entry));
      }
    } else if (existsSync(join(root, pattern, 'package.json'))) dirs.push(join(root, pattern));
  }
  return dirs;
}

/** Paths (relative to the package) that package.json publishes as code: exports, bin, main. */
function entryFiles(/** @type {any} */ pkg) {
  /** @type {Set<string>} */
  const out = new Set();
  /** @param {unknown} v */
  const visit = (v) => {
    if (typeof v === 'string') out.add(v.replace(/^\.\//, ''));
    else if (v && typeof v === 'object') for (const x of Object.values(v)) visit(x);
  };
  visit(pkg.exports);
  visit(pkg.bin);
  visit(pkg.main);
  return out;
}

/** @param {string} root */
export function loadWorkspaces(root) {
  const rootPkg = readJson(join(root, 'package.json'));
  /** @type {Workspace[]} */
  const workspaces = workspaceDirs(root, rootPkg.workspaces ?? []).map((dir) => {
    const manifest = join(dir, 'package.json');
    const pkg = readJson(manifest);
    const config = pkg['mp-otel'] ?? {};
    return {
      name: pkg.name,
      dir,
      manifest,
      layer: Number.isInteger(config.layer) ? config.layer : undefined,
      bundled: config.bundled === true,
      dependencies: pkg.dependencies ?? {},
      devDependencies: pkg.devDependencies ?? {},
      peerDependencies: pkg.peerDependencies ?? {},
      optionalDependencies: pkg.optionalDependencies ?? {},
      entryFiles: entryFiles(pkg),
    };
  });
  return {
    rootDevDependencies: /** @type {Record<string, string>} */ (rootPkg.devDependencies ?? {}),
    workspaces,
  };
}

/** @param {string} dir @returns {string[]} */
function codeFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    if (SKIPPED_DIRS.has(entry) || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...codeFiles(path));
    else if (CODE_FILE.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageName(/** @type {string} */ specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : /** @type {string} */ (parts[0]);
}

/** @param {ts.Node} node */
function isImportMetaUrl(node) {
  return (
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.name.text === 'meta'
  );
}

/** Does this expression name the file's own location (import.meta.*, __dirname, or a const made from them)? */
function isFileLocation(/** @type {ts.Expression} */ node, /** @type {Map<string, ts.Expression>} */ consts) {
  /** @type {Set<string>} */
  const seen = new Set();
  /** @param {ts.Node} n @returns {boolean} */
  const refersToFile = (n) => {
    if (ts.isMetaProperty(n)) return true;
    if (ts.isIdentifier(n)) {
      if (n.text === '__dirname' || n.text === '__filename') return true;
      const init = consts.get(n.text);
      if (init && !seen.has(n.text)) {
        seen.add(n.text);
        return refersToFile(init);
      }
      return false;
    }
    return ts.forEachChild(n, (c) => (refersToFile(c) ? true : undefined)) === true;
  };
  return refersToFile(node);
}

/** The imports and file-relative paths one source file contains. */
export function scanSource(/** @type {string} */ file, /** @type {string} */ text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  /** @type {ImportRef[]} */
  const imports = [];
  /** @type {PathRef[]} */
  const paths = [];
  /** @type {Map<string, ts.Expression>} */
  const consts = new Map();
  const here = dirname(file);
  /** @param {ts.Node} node */
  const lineOf = (node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  // type-only imports count too: a published declaration file names the package as well
  /** @param {ts.Node} node @param {string} specifier @param {boolean} [resolveOnly] */
  const addImport = (node, specifier, resolveOnly = false) =>
    imports.push({ specifier, line: lineOf(node), resolveOnly });

  /** @param {ts.Node} node */
  const visit = (node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      consts.set(node.name.text, node.initializer);
    }
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      addImport(node, node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      addImport(node, node.moduleSpecifier.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      addImport(node, node.moduleReference.expression.text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) addImport(node, arg.literal.text);
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const callee = node.expression;
      const literal = first && ts.isStringLiteralLike(first) ? first.text : undefined;
      if (
        callee.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(callee) && callee.text === 'require')
      ) {
        if (literal !== undefined) addImport(node, literal);
      } else if (
        ts.isPropertyAccessExpression(callee) &&
        callee.name.text === 'resolve' &&
        literal !== undefined &&
        (ts.isMetaProperty(callee.expression) || /require/i.test(callee.expression.getText(source)))
      ) {
        // require.resolve / import.meta.resolve locate a package's files: a declared dependency, not an import
        addImport(node, literal, true);
      } else {
        const fn = ts.isIdentifier(callee)
          ? callee.text
          : ts.isPropertyAccessExpression(callee)
            ? callee.name.text
            : '';
        if ((fn === 'join' || fn === 'resolve') && first && isFileLocation(first, consts)) {
          const segments = node.arguments
            .slice(1)
            .map((a) => (ts.isStringLiteralLike(a) ? a.text : undefined));
          const literals = segments.filter((s) => s !== undefined);
          if (literals.some((s) => s.split(/[\\/]/).includes('..'))) {
            // the base is the file's folder, or the file itself (fileURLToPath(import.meta.url)): take the
            // folder, the more generous reading
            paths.push({
              target: resolve(here, ...literals),
              line: lineOf(node),
              text: node.getText(source),
            });
          }
        }
      }
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL'
    ) {
      const [spec, base] = node.arguments ?? [];
      if (
        spec &&
        base &&
        ts.isStringLiteralLike(spec) &&
        isImportMetaUrl(base) &&
        spec.text.startsWith('.')
      ) {
        paths.push({ target: resolve(here, spec.text), line: lineOf(node), text: node.getText(source) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, paths };
}

/** @param {string} dir @param {string} path */
function inside(dir, path) {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** Cycles in the graph over workspace dependencies + devDependencies, each as a list of names. */
export function findCycles(/** @type {Workspace[]} */ workspaces) {
  const names = new Set(workspaces.map((w) => w.name));
  /** @type {Map<string, string[]>} */
  const edges = new Map(
    workspaces.map((w) => [
      w.name,
      Object.keys({ ...w.dependencies, ...w.devDependencies })
        .filter((d) => names.has(d))
        .sort(),
    ]),
  );
  /** @type {string[][]} */
  const cycles = [];
  /** @type {Map<string, number>} */
  const state = new Map(); // 1 = on the stack, 2 = done
  /** @type {string[]} */
  const stack = [];
  /** @param {string} name */
  const visit = (name) => {
    state.set(name, 1);
    stack.push(name);
    for (const next of edges.get(name) ?? []) {
      if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, 2);
  };
  for (const w of [...workspaces].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!state.has(w.name)) visit(w.name);
  }
  return cycles;
}

/** All violations of the rules in the workspace rooted at `root`. */
export function checkLayers(/** @type {string} */ root) {
  const { rootDevDependencies, workspaces } = loadWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  /** @type {Violation[]} */
  const violations = [];
  /** @param {string} file @param {number} line @param {string} rule @param {string} message */
  const report = (file, line, rule, message) =>
    violations.push({ file: relative(root, file), line, rule, message });

  for (const w of workspaces) {
    if (w.layer === undefined) {
      report(w.manifest, 1, RULES.layer, `${w.name} declares no layer ("mp-otel": { "layer": N })`);
    }
    for (const dep of Object.keys(w.dependencies)) {
      const target = byName.get(dep);
      if (target?.layer !== undefined && w.layer !== undefined && target.layer >= w.layer) {
        report(
          w.manifest,
          1,
          RULES.upward,
          `${w.name} (layer ${w.layer}) depends at run time on ${dep} (layer ${target.layer}): only lower layers`,
        );
      }
    }
  }
  for (const cycle of findCycles(workspaces)) {
    const first = /** @type {Workspace} */ (byName.get(/** @type {string} */ (cycle[0])));
    report(first.manifest, 1, RULES.cycle, `workspace dependency cycle: ${cycle.join(' → ')}`);
  }

  for (const w of workspaces) {
    const runtimeDeclared = { ...w.dependencies, ...w.peerDependencies, ...w.optionalDependencies };
    // a bundled package (the mini-program SDK) ships its devDependencies inside its bundle
    const buildDeclared = w.bundled ? { ...runtimeDeclared, ...w.devDependencies } : runtimeDeclared;
    const devDeclared = { ...runtimeDeclared, ...w.devDependencies, ...rootDevDependencies };
    for (const file of codeFiles(w.dir)) {
      const rel = relative(w.dir, file).split(sep).join('/');
      const runtime = rel.startsWith('src/') || rel.startsWith('bin/') || w.entryFiles.has(rel);
      const { imports, paths } = scanSource(file, readFileSync(file, 'utf8'));
      for (const ref of imports) {
        const spec = ref.specifier;
        if (spec.startsWith('node:') || BUILTINS.has(spec) || spec.startsWith('#')) continue;
        if (spec.startsWith('.') || spec.startsWith('/')) {
          const target = resolve(dirname(file), spec);
          if (!inside(w.dir, target)) {
            report(
              file,
              ref.line,
              RULES.escape,
              `import '${spec}' leaves ${w.name}: import it by package name`,
            );
          }
          continue;
        }
        const name = packageName(spec);
        if (name === w.name) continue; // a package may import itself by name
        const declared = runtime ? buildDeclared : devDeclared;
        if (!(name in declared)) {
          const where = runtime
            ? `dependencies${w.bundled ? ' or devDependencies (bundled)' : ''}`
            : 'dependencies or devDependencies';
          report(file, ref.line, RULES.undeclared, `'${name}' is not in ${w.name}'s ${where}`);
        }
        const target = byName.get(name);
        if (runtime && !ref.resolveOnly && target && w.layer !== undefined && target.layer !== undefined) {
          if (target.layer >= w.layer) {
            report(
              file,
              ref.line,
              RULES.upward,
              `${w.name} (layer ${w.layer}) imports ${name} (layer ${target.layer}): src may import only lower layers`,
            );
          }
        }
      }
      if (!runtime) continue;
      for (const p of paths) {
        if (!inside(w.dir, p.target)) {
          report(
            file,
            p.line,
            RULES.escape,
            `runtime path ${p.text} leaves ${w.name}: ship the data inside the package or take it as a parameter`,
          );
        }
      }
    }
  }
  return violations;
}

/** @param {Violation} v */
export function formatViolation(v) {
  return `${v.file}:${v.line}: [${v.rule}] ${v.message}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = checkLayers(root);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length > 0) {
    console.error(`check-layers: ${violations.length} violation(s); the rule is in the README ("Layout")`);
    process.exit(1);
  }
  console.log('check-layers: ok');
}
