// Where maps live, with the data they explain: the embedded store keeps them as files in its data
// directory; production keeps them in ClickHouse (`mp_sourcemaps`, clickhouse/migrations/008). Both are
// keyed by (service, release, file): `file` is the generated file's path as its map was uploaded
// (`__APP__/app-service.js`, `packageB/app-service.js`, …); service '' means any service.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MapStore {
  put(service: string, release: string, file: string, map: string): Promise<void>;
  /** The files that have maps for a release (of this service, and of service ''). */
  files(service: string, release: string): Promise<Array<{ service: string; file: string }>>;
  get(service: string, release: string, file: string): Promise<string | undefined>;
}

/** What a ClickHouse client must offer; values always travel as query parameters or inserted rows. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  insert(table: string, rows: Array<Record<string, unknown>>): Promise<void>;
}

// '' → '_' (a folder name must not be empty); dots encoded too, so no segment can be '.' or '..'
const encode = (s: string) => (s ? encodeURIComponent(s).replace(/\./g, '%2E') : '_');
const decode = (s: string) => (s === '_' ? '' : decodeURIComponent(s));

/** `<dir>/<service>/<release>/<file, URI-encoded>.map` — every path segment encoded, none can escape. */
export function directoryStore(dir: string): MapStore {
  const folder = (service: string, release: string) => join(dir, encode(service), encode(release));
  return {
    async put(service, release, file, map) {
      const f = folder(service, release);
      mkdirSync(f, { recursive: true });
      writeFileSync(join(f, `${encode(file)}.map`), map);
    },
    async files(service, release) {
      const out: Array<{ service: string; file: string }> = [];
      for (const s of new Set([service, ''])) {
        let names: string[] = [];
        try {
          names = readdirSync(folder(s, release));
        } catch {}
        for (const n of names) if (n.endsWith('.map')) out.push({ service: s, file: decode(n.slice(0, -4)) });
      }
      return out;
    },
    async get(service, release, file) {
      try {
        return readFileSync(join(folder(service, release), `${encode(file)}.map`), 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

export function clickhouseStore(sql: SqlClient, database = 'otel'): MapStore {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  const table = `${database}.mp_sourcemaps`;
  return {
    put: (service, release, file, map) =>
      sql.insert(table, [{ ServiceName: service, Release: release, File: file, Map: map }]),
    files: (service, release) =>
      sql
        .query<{ service: string; file: string }>(
          `SELECT DISTINCT ServiceName AS service, File AS file FROM ${table} WHERE Release = {release:String} AND ServiceName IN ({service:String}, '')`,
          { service, release },
        )
        .then((rows) => rows),
    get: (service, release, file) =>
      sql
        .query<{ map: string }>(
          `SELECT argMax(Map, UploadedAt) AS map FROM ${table} WHERE ServiceName = {service:String} AND Release = {release:String} AND File = {file:String} GROUP BY File`,
          { service, release, file },
        )
        .then((rows) => rows[0]?.map),
  };
}
