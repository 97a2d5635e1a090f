// The route catalog (catalog/catalog.yaml): the routes and SLOs that variables and alert rules derive from.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export interface CatalogRoute {
  name: string;
  business?: string;
  department?: string;
  page?: string;
  service?: string;
  match?: { method?: string; path?: string };
  slo?: { availability?: number; latency_ms?: number };
}
export interface Catalog {
  routes: CatalogRoute[];
}

/** The repository's catalog (catalog/catalog.yaml at the workspace root). */
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../../catalog/catalog.yaml', import.meta.url));

export function loadCatalog(path: string = DEFAULT_CATALOG_PATH): Catalog {
  const doc = parse(readFileSync(path, 'utf8')) as { routes?: CatalogRoute[] };
  const routes = (doc.routes ?? []).filter((r) => typeof r?.name === 'string');
  for (const r of routes) {
    if (!/^[\w.-]+$/.test(r.name))
      throw new Error(`catalog: route name ${JSON.stringify(r.name)} is not a plain identifier`);
  }
  return { routes };
}
