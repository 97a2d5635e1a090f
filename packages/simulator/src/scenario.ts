// Scenario files: YAML validated against scenario.schema.json (JSON Schema 2020-12, ajv).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CUBE_DIMENSIONS, cubeDimension } from '@mp-otel/contracts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);

export type Weights = Record<string, number>;
export type DimWeights = Weights | { per_os: Record<string, Weights> };
export type Dimension =
  | 'os.name'
  | 'mp.base_library.version'
  | 'mp.host.version'
  | 'service.version'
  | 'network.type'
  | 'carrier'
  | 'province'
  | 'host.name';
export type Where = Partial<Record<Dimension, string | string[]>>;
export type Route = 'upload.image' | 'download.image';

export interface Fault {
  name: string;
  from_minute: number;
  to_minute: number;
  where?: Where;
  routes?: Route[];
  effect: 'corrupt_upload' | 'timeout' | 'network_error' | 'slow_node';
  delay_ms?: number;
}

export interface Noise {
  kind: 'security_scan' | 'crawler';
  every_minutes?: number;
  requests?: number;
  ips?: string[];
  user_agent?: string;
}

export interface Scenario {
  name: string;
  description?: string;
  start?: string;
  duration_minutes: number;
  speed: number;
  clients: number;
  requests_per_second: number;
  sample_rate: number;
  seed: number;
  mix: Partial<Record<Dimension, DimWeights>> & { 'os.name': Weights };
  actions: Partial<Record<Route, { weight: number; size_kb?: [number, number] }>>;
  backend: { nodes: number };
  /** a seed-scale replay: this many users, `clients` of them the real SDK, the rest generated (synthetic.ts) */
  scale?: { users: number; requests_per_user_hour?: number; batch_spans?: number };
  /** the latency model (see latency.ts); absent fields take the defaults */
  latency?: {
    rtt_ms?: Record<string, number>;
    kb_per_s?: Record<string, number>;
    server_ms?: Partial<Record<Route, number>> & { other_ms?: number };
    jitter?: number;
  };
  faults: Fault[];
  noise: Noise[];
  expect?: {
    route?: string;
    kpi?: 'error_rate' | 'slow_ratio' | 'volume';
    culprit?: Record<string, string>;
    /** several culprits at once: the root-cause set diagnose must return (its elements in any order) */
    set?: Record<string, string>[];
    layer?: 'client' | 'network' | 'gateway' | 'backend';
    alerts?: string[];
  };
}

let validator: ReturnType<Ajv2020['compile']> | undefined;

export function scenarioSchema(): object {
  return JSON.parse(readFileSync(require.resolve('../scenario.schema.json'), 'utf8'));
}

/** Parses and validates; throws with every schema error listed. */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  validator ??= new Ajv2020({
    allErrors: true,
    useDefaults: true,
    strict: false,
    validateFormats: false,
  }).compile(scenarioSchema());
  const doc = parse(text) ?? {};
  if (!validator(doc)) {
    const errors = (validator.errors ?? [])
      .map((e) => {
        const extra = (e.params as { additionalProperty?: string }).additionalProperty;
        return `  ${e.instancePath || '/'} ${e.message}${extra ? `: '${extra}'` : ''}`;
      })
      .join('\n');
    throw new Error(`${source}: not a valid scenario:\n${errors}`);
  }
  const s = doc as Scenario;
  s.backend ??= { nodes: 2 };
  s.faults ??= [];
  s.noise ??= [];
  if (s.start !== undefined && Number.isNaN(Date.parse(s.start)))
    throw new Error(`${source}: start is not an ISO 8601 date-time`);
  for (const f of s.faults) {
    if (f.to_minute <= f.from_minute) throw new Error(`${source}: fault "${f.name}" ends before it starts`);
    if (f.effect === 'slow_node' && !f.where?.['host.name'])
      throw new Error(`${source}: slow_node fault "${f.name}" needs where.host.name`);
  }
  // an expected culprit must be something diagnosis can name: a localizable dimension of the cube
  const expected = [
    ...(s.expect?.culprit ? [['expect.culprit', s.expect.culprit] as const] : []),
    ...(s.expect?.set ?? []).map((e, i) => [`expect.set[${i}]`, e] as const),
  ];
  for (const [where, culprit] of expected)
    for (const k of Object.keys(culprit)) {
      if (!cubeDimension(k)?.localize)
        throw new Error(
          `${source}: ${where}.${k} is not a dimension diagnosis localizes (${[...new Set(CUBE_DIMENSIONS.filter((d) => d.localize).map((d) => d.attribute))].join(', ')})`,
        );
    }
  return s;
}

/** The path of a scenario shipped with the simulator (`scenarios/<name>.yaml`). */
export function scenarioPath(name: string): string {
  return require.resolve(`../scenarios/${name}.yaml`);
}

export function loadScenario(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fleet and schedule. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick(weights: Weights, random: () => number): string {
  const entries = Object.entries(weights);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = random() * total;
  for (const [value, w] of entries) {
    r -= w;
    if (r < 0) return value;
  }
  return entries[entries.length - 1]![0];
}

export function matchesWhere(where: Where | undefined, profile: Partial<Record<Dimension, string>>): boolean {
  if (!where) return true;
  for (const [dim, want] of Object.entries(where)) {
    const have = profile[dim as Dimension];
    if (have === undefined) return false;
    if (Array.isArray(want) ? !want.includes(have) : want !== have) return false;
  }
  return true;
}
