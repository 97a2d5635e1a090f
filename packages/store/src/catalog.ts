// Fills <db>.mp_routes from a catalog (through @clickhouse/client, so chDB and a ClickHouse server are
// loaded the same way). The catalog itself (schema, loader, route regex) is @mp-otel/contracts'.
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { type Catalog, routeRows } from '@mp-otel/contracts';

/** The example catalog packaged with the store (a copy of the repository's catalog/catalog.yaml). */
export const defaultCatalogPath = (): string =>
  fileURLToPath(new URL('../catalog/catalog.yaml', import.meta.url));

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
