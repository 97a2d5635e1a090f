// Loads catalog/catalog.yaml, validates it against catalog/catalog.schema.json and fills <db>.mp_routes
// (through @clickhouse/client, so chDB and a ClickHouse server are loaded the same way).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { Ajv } from 'ajv';
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

export interface Catalog {
  version: 1;
  services?: { name: string; url: string }[];
  routes: CatalogRoute[];
}

const here = dirname(fileURLToPath(import.meta.url));

function findUp(rel: string): string {
  const candidates = [resolve(here, '../../..', rel), resolve(here, '..', rel)];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`${rel} not found (looked in ${candidates.join(', ')})`);
}

export const defaultCatalogPath = (): string => findUp('catalog/catalog.yaml');
export const catalogSchemaPath = (): string => findUp('catalog/catalog.schema.json');

export class CatalogError extends Error {}

export function parseCatalog(text: string, source = 'catalog'): Catalog {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CatalogError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const schema = JSON.parse(readFileSync(catalogSchemaPath(), 'utf8'));
  const ajv = new Ajv({ allErrors: true, useDefaults: true });
  const validate = ajv.compile(schema);
  if (!validate(doc)) {
    const msg = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new CatalogError(`${source}: ${msg}`);
  }
  const cat = doc as Catalog;
  const names = new Set<string>();
  const services = new Set((cat.services ?? []).map((s) => s.name));
  for (const r of cat.routes) {
    if (names.has(r.name)) throw new CatalogError(`${source}: duplicate route name ${r.name}`);
    names.add(r.name);
    if (r.service && cat.services && !services.has(r.service)) {
      throw new CatalogError(`${source}: route ${r.name} names unknown service ${r.service}`);
    }
  }
  return cat;
}

export function loadCatalog(file = defaultCatalogPath()): Catalog {
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

/** Replaces the contents of <db>.mp_routes with the catalog's routes. */
export async function loadCatalogIntoClickHouse(
  client: ClickHouseClient,
  cat: Catalog,
  database = 'otel',
): Promise<number> {
  const rows = routeRows(cat);
  await client.command({ query: `TRUNCATE TABLE IF EXISTS ${database}.mp_routes` });
  await client.insert({ table: `${database}.mp_routes`, values: rows, format: 'JSONEachRow' });
  return rows.length;
}
