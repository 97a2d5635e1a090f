// One way the diagnosis reads ClickHouse: a parameterised query ({name:Type} placeholders bound by the
// server, never spliced into the SQL), its rows as JSON objects.
import type { ClickHouseClient } from '@clickhouse/client';

export async function queryRows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return (await rs.json()) as T[];
}
