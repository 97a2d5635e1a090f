// How symbolicated stacks reach SQL (Grafana reads SQL; it cannot call Node): exception stacks stored in
// otel_logs are symbolicated out of band and written to `mp_symbolicated_stacks` (clickhouse/migrations/
// 008), keyed by service, release (service.version) and cityHash64 of the raw stack; dashboards join on
// that key. Stacks stay pending until their release has maps, so uploading maps after the errors came in
// symbolicates them too. The raw rows are never changed (both modes write the same otel_logs rows).
import { symbolicate } from './maps.js';
import type { MapStore, SqlClient } from './store.js';

export interface PendingOptions {
  database?: string;
  /** only exceptions this recent (default 7 days) */
  sinceHours?: number;
  /** only this release */
  release?: string;
  /** at most this many distinct stacks per call (default 500) */
  limit?: number;
}

export async function symbolicatePending(
  sql: SqlClient,
  store: MapStore,
  o: PendingOptions = {},
): Promise<{ symbolicated: number; withoutMaps: number }> {
  const db = o.database ?? 'otel';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) throw new Error(`invalid database name: ${db}`);
  const rows = await sql.query<{ service: string; release: string; hash: string; stack: string }>(
    `SELECT ServiceName AS service, ResourceAttributes['service.version'] AS release,
            toString(cityHash64(LogAttributes['exception.stacktrace'])) AS hash,
            any(LogAttributes['exception.stacktrace']) AS stack
       FROM ${db}.otel_logs
      WHERE Timestamp > now() - toIntervalHour({since:UInt32})
        AND LogAttributes['exception.stacktrace'] != ''
        AND ({release:String} = '' OR ResourceAttributes['service.version'] = {release:String})
        AND (ServiceName, ResourceAttributes['service.version'], cityHash64(LogAttributes['exception.stacktrace']))
            NOT IN (SELECT ServiceName, Release, StackHash FROM ${db}.mp_symbolicated_stacks)
      GROUP BY service, release, hash
      LIMIT {limit:UInt32}`,
    { since: o.sinceHours ?? 24 * 7, release: o.release ?? '', limit: o.limit ?? 500 },
  );
  const done: Array<Record<string, unknown>> = [];
  let withoutMaps = 0;
  for (const r of rows) {
    const s = await symbolicate(store, r.stack, r.release, r.service);
    if (s.mapped === 0) {
      withoutMaps++;
      continue; // stays pending: its maps may be uploaded later
    }
    done.push({
      ServiceName: r.service,
      Release: r.release,
      StackHash: r.hash,
      TopFrame: s.top,
      Stack: s.text,
    });
  }
  if (done.length) await sql.insert(`${db}.mp_symbolicated_stacks`, done);
  return { symbolicated: done.length, withoutMaps };
}
