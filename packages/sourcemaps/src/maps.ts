// Upload and symbolication.
// Upload: every `*.map` under a folder (what WeChat DevTools exports for the app service and each
// subpackage, plus a framework build's own maps). A map whose sources are themselves files with maps in
// the same upload is composed with them (@jridgewell/remapping), so the two layers of a Taro or uni-app
// build (original sources → framework bundle → DevTools' app-service.js) become one map straight to the
// original sources.
// Symbolication: each frame's file is matched to an uploaded map by path suffix (stacks name files as
// `https://usr/app-service.js`, uploads as `__APP__/app-service.js`), its position is traced back
// (@jridgewell/trace-mapping), and the original function is the one enclosing that position in the
// original source when the map carries sources, else the mapped name, else the minified name.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import remapping from '@jridgewell/remapping';
import { originalPositionFor, sourceContentFor, TraceMap } from '@jridgewell/trace-mapping';
import { type Frame, normalizePath, parseStack } from './stack.js';
import type { MapStore } from './store.js';

export interface UploadResult {
  /** the generated files that now have maps, as stacks will name them (upload keys) */
  files: string[];
  /** files whose map was composed with a map of one of its sources (two-layer builds) */
  composed: string[];
}

function mapFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...mapFiles(path));
    else if (name.endsWith('.map')) out.push(path);
  }
  return out.sort();
}

/** Does `a` end with path `b` on a segment boundary (or the reverse)? */
function samePathTail(a: string, b: string): boolean {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  return long === short || long.endsWith(`/${short}`);
}

/** Reads and stores every map under `dir` for a release, composing two-layer maps. */
export async function upload(
  store: MapStore,
  o: { dir: string; release: string; service?: string },
): Promise<UploadResult> {
  const maps = new Map<string, any>();
  for (const path of mapFiles(o.dir)) {
    const key = normalizePath(
      relative(o.dir, path)
        .split(sep)
        .join('/')
        .replace(/\.map$/, ''),
    );
    let map: any;
    try {
      map = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`${path}: not a source map (${(err as Error).message})`);
    }
    if (map?.version !== 3 || !Array.isArray(map.sources))
      throw new Error(`${path}: not a version 3 source map`);
    maps.set(key, map);
  }
  const innerFor = (source: string, self: string) => {
    const wanted = normalizePath(source.replace(/^webpack:\/\/[^/]*\//, ''));
    for (const [key, map] of maps) if (key !== self && samePathTail(key, wanted)) return map;
    return null;
  };
  const result: UploadResult = { files: [], composed: [] };
  for (const [key, map] of maps) {
    const layered = map.sources.some((s: string | null) => s && innerFor(s, key));
    let stored = map;
    if (layered) {
      // one level: the inner maps point at original sources (a loader returning null stops there)
      stored = remapping(map, (source) => (source === map.file ? null : innerFor(source, key)), {
        excludeContent: false,
      });
      result.composed.push(key);
    }
    await store.put(o.service ?? '', o.release, key, JSON.stringify(stored));
    result.files.push(key);
  }
  return result;
}

export interface SymbolicatedFrame extends Frame {
  /** the original position, when a map covered the frame */
  original?: { fn: string; file: string; line: number; column: number };
}

export interface Symbolicated {
  frames: SymbolicatedFrame[];
  /** the stack with every mapped frame rewritten: "    at fn (src/file.ts:12:5)" */
  text: string;
  /** the first frame, symbolicated where possible ("fn (src/file.ts:12:5)") */
  top: string;
  /** how many frames a map covered */
  mapped: number;
}

const FUNCTION_PATTERNS = [
  /(?:^|[^\w$.])function\s*\*?\s*([\w$]+)\s*\(/g, // function name(
  /([\w$]+)\s*[:=]\s*(?:async\s+)?function\b/g, // name: function / name = function
  /([\w$]+)\s*[:=]\s*(?:async\s+)?(?:\([^()]*\)|[\w$]+)\s*=>/g, // name = (…) => / name: x =>
  /^\s*(?:(?:static|async|get|set)\s+)*([\w$]+)\s*\([^()]*\)\s*\{/gm, // method(…) {
];
const NOT_NAMES = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'with']);

/** The name of the innermost function that starts at or before (line, column) in `source`. */
export function enclosingFunction(source: string, line: number, column: number): string | undefined {
  const lines = source.split('\n');
  const upTo = lines.slice(0, line - 1).join('\n').length + (line > 1 ? 1 : 0) + column;
  const head = source.slice(0, upTo);
  let best: { at: number; name: string } | undefined;
  for (const pattern of FUNCTION_PATTERNS) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(head); m; m = pattern.exec(head)) {
      const name = m[1]!;
      if (NOT_NAMES.has(name)) continue;
      if (!best || m.index > best.at) best = { at: m.index, name };
    }
  }
  return best?.name;
}

const show = (fn: string, file: string, line: number, column: number) =>
  fn ? `${fn} (${file}:${line}:${column})` : `${file}:${line}:${column}`;

/** Symbolicates a stack (V8 or JavaScriptCore format) with the maps stored for a release. */
export async function symbolicate(
  store: MapStore,
  stack: string,
  release: string,
  service = '',
): Promise<Symbolicated> {
  const lines = parseStack(stack);
  const available = await store.files(service, release);
  const traces = new Map<string, TraceMap | null>();
  const traceFor = async (file: string): Promise<TraceMap | null> => {
    const wanted = normalizePath(file);
    const candidates = available.filter((a) => samePathTail(a.file, wanted));
    // the closest match: the service's own map first, then the shortest key (the main package)
    candidates.sort((a, b) => (a.service === b.service ? a.file.length - b.file.length : a.service ? -1 : 1));
    const pick = candidates[0];
    if (!pick) return null;
    const id = `${pick.service}\u0000${pick.file}`;
    if (!traces.has(id)) {
      const raw = await store.get(pick.service, release, pick.file);
      traces.set(id, raw ? new TraceMap(raw) : null);
    }
    return traces.get(id) ?? null;
  };
  const frames: SymbolicatedFrame[] = [];
  const out: string[] = [];
  let mapped = 0;
  for (const l of lines) {
    if (l.kind === 'text') {
      out.push(l.text);
      continue;
    }
    const f: SymbolicatedFrame = { ...l.frame };
    const trace = await traceFor(f.file);
    const pos = trace
      ? originalPositionFor(trace, { line: f.line, column: Math.max(0, f.column - 1) })
      : undefined;
    if (trace && pos && pos.source !== null && pos.line !== null) {
      const content = sourceContentFor(trace, pos.source);
      const fn =
        (content && enclosingFunction(content, pos.line, pos.column ?? 0)) ||
        pos.name ||
        f.fn.replace(/^.*\./, '');
      f.original = { fn, file: pos.source, line: pos.line, column: (pos.column ?? 0) + 1 };
      mapped++;
      out.push(`    at ${show(fn, pos.source, pos.line, (pos.column ?? 0) + 1)}`);
    } else out.push(l.text);
    frames.push(f);
  }
  const first = frames[0];
  const top = !first
    ? ''
    : first.original
      ? show(first.original.fn, first.original.file, first.original.line, first.original.column)
      : show(first.fn, first.file, first.line, first.column);
  return { frames, text: out.join('\n'), top, mapped };
}
