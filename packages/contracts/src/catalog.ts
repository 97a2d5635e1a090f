// The route catalog: its types, its only loader (YAML + the JSON schema + the rules a schema cannot say) and
// the route regex every runtime matches spans with. Kong, the collector, the store, Grafana and the
// simulator all read catalogs through parseCatalog/loadCatalog, so a catalog one accepts, all accept.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

export interface CatalogRoute {
  name: string;
  business: string;
  department: string;
  page?: string;
  service?: string;
  match: { method?: string; path: string; client_url?: string };
  slo: { availability: number; latency_ms: number };
}

/** A mini-program (or H5 page) allowed to send telemetry. */
export interface CatalogApp {
  /** the app's service.name */
  name: string;
  /** the platform app id (mp.app_id) */
  app_id?: string;
  /** public ingest keys, sent as the `x-mp-otel-key` header (INGEST_KEY_HEADER); remove one to revoke it */
  keys: { id: string; key: string }[];
  /** per-app limits at the edge (the edge also limits each client IP) */
  quota?: { requests_per_second?: number; burst?: number; per_ip_requests_per_second?: number };
  /** the app's own API hosts: trace context is propagated only to these */
  hosts?: string[];
}

export interface Catalog {
  version: 1;
  apps?: CatalogApp[];
  services?: { name: string; url: string }[];
  routes: CatalogRoute[];
}

/** The request header that carries an app's public ingest key. */
export const INGEST_KEY_HEADER = 'x-mp-otel-key';

/** The JSON schema (draft-07) of a catalog file, shipped in this package. */
export const catalogSchemaPath = (): string =>
  fileURLToPath(new URL('../catalog.schema.json', import.meta.url));

export class CatalogError extends Error {}

let validator: ValidateFunction | undefined;
function validateSchema(doc: unknown): string | undefined {
  validator ??= new Ajv({ allErrors: true, useDefaults: true }).compile(
    JSON.parse(readFileSync(catalogSchemaPath(), 'utf8')),
  );
  if (validator(doc)) return undefined;
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

export function parseCatalog(text: string, source = 'catalog'): Catalog {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CatalogError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const problems = validateSchema(doc);
  if (problems) throw new CatalogError(`${source}: ${problems}`);
  const cat = doc as Catalog;
  const names = new Set<string>();
  const services = new Set((cat.services ?? []).map((s) => s.name));
  for (const r of cat.routes) {
    if (names.has(r.name)) throw new CatalogError(`${source}: duplicate route name ${r.name}`);
    names.add(r.name);
    if (r.service && !services.has(r.service)) {
      throw new CatalogError(`${source}: route ${r.name} names unknown service ${r.service}`);
    }
  }
  const appNames = new Set<string>();
  const keys = new Set<string>();
  for (const a of cat.apps ?? []) {
    if (appNames.has(a.name)) throw new CatalogError(`${source}: duplicate app name ${a.name}`);
    appNames.add(a.name);
    for (const k of a.keys) {
      if (keys.has(k.key)) throw new CatalogError(`${source}: app ${a.name}: key ${k.id} is used twice`);
      keys.add(k.key);
    }
  }
  return cat;
}

export function loadCatalog(file: string): Catalog {
  return parseCatalog(readFileSync(file, 'utf8'), file);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Turns a catalog path (`/images/{id}`) into a regex body: `{x}`, `:x` = one segment. */
function pathPattern(path: string): string {
  return path
    .split('/')
    .map((seg) => (/^\{[^}]*\}$/.test(seg) || /^:\w+$/.test(seg) ? '[^/?#]+' : escapeRegex(seg)))
    .join('/');
}

/**
 * The regex the SLI cube matches against `concat(method, ' ', http.route | url path)`. A route matches
 * the path itself, the same path behind any prefix (a gateway mount such as /api), and backend route
 * templates (`/images/:id`, `/images/{id}`) since a template segment is itself one segment.
 */
export function routeRegex(r: CatalogRoute): string {
  const method = !r.match.method || r.match.method === '*' ? '[A-Z]+' : escapeRegex(r.match.method);
  const paths = [r.match.path];
  if (r.match.client_url) {
    const p = r.match.client_url.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/[?#].*$/, '') || '/';
    if (!paths.includes(p)) paths.push(p);
  }
  const alts = paths.map((p) => `(?:/[^/?#]+)*${pathPattern(p.replace(/\/+$/, '') || '/')}`);
  return `^${method} (?:${alts.join('|')})/?$`;
}

export interface RouteRow {
  name: string;
  business: string;
  department: string;
  page: string;
  service: string;
  method: string;
  path: string;
  match_regex: string;
  slo_availability: number;
  slo_latency_ms: number;
}

export function routeRows(cat: Catalog): RouteRow[] {
  return cat.routes.map((r) => ({
    name: r.name,
    business: r.business,
    department: r.department,
    page: r.page ?? '',
    service: r.service ?? '',
    method: r.match.method ?? '*',
    path: r.match.path,
    match_regex: routeRegex(r),
    slo_availability: r.slo.availability,
    slo_latency_ms: r.slo.latency_ms,
  }));
}
