// mp-otel sourcemaps upload | apply, mp-otel symbolicate: @mp-otel/sourcemaps wired to a store.
//   --data-dir DIR  the embedded store's data directory: maps are files in DIR/sourcemaps (a running
//                   `mp-otel up` on DIR symbolicates stored exceptions with them within seconds)
//   --url URL       a ClickHouse server (or `mp-otel up`'s endpoint): maps go to mp_sourcemaps and the
//                   release's stored exceptions are symbolicated into mp_symbolicated_stacks at once
import { join } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import {
  clickhouseStore,
  directoryStore,
  type MapStore,
  openSourceMaps,
  type SqlClient,
  symbolicatePending,
} from '@mp-otel/sourcemaps';

export const SOURCEMAP_USAGE = `  mp-otel sourcemaps upload --release VERSION [--service NAME] DIR  (--data-dir DIR | --url URL)
  mp-otel sourcemaps apply [--release VERSION] [--watch]  (--data-dir DIR | --url URL)
  mp-otel symbolicate --release VERSION [--service NAME] < stack.txt  (--data-dir DIR | --url URL)
`;

export interface SourcemapFlags {
  release?: string;
  service?: string;
  'data-dir'?: string;
  url?: string;
  user?: string;
  password?: string;
  watch?: boolean;
}

/** The embedded store's map folder inside its data directory. */
export const mapsDir = (dataDir: string) => join(dataDir, 'sourcemaps');

/** @clickhouse/client as the SqlClient @mp-otel/sourcemaps asks for (parameters, JSONEachRow rows). */
export function sqlClient(c: ClickHouseClient): SqlClient {
  return {
    async query<T>(query: string, params?: Record<string, unknown>) {
      const rs = await c.query({ query, query_params: params, format: 'JSONEachRow' });
      return rs.json<T>();
    },
    async insert(table, values) {
      await c.insert({ table, values, format: 'JSONEachRow' });
    },
  };
}

/**
 * Symbolicates stored exception stacks every `intervalMs` (what `mp-otel up` runs beside the store, with
 * the maps of its data directory). Returns the stop function.
 */
export function startSymbolication(
  client: ClickHouseClient,
  store: MapStore,
  database: string,
  intervalMs = 10_000,
  log: (line: string) => void = () => {},
): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = symbolicatePending(sqlClient(client), store, { database })
      .then((r) => {
        if (r.symbolicated) log(`mp-otel: symbolicated ${r.symbolicated} exception stack(s)`);
      })
      .catch((err) => log(`mp-otel: symbolication failed: ${(err as Error).message}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `sourcemaps …` or `symbolicate`; -1 when `cmd` is not one of them. */
export async function sourcemapCommand(
  cmd: string,
  rest: string[],
  flags: SourcemapFlags,
  database: string,
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  if (cmd !== 'sourcemaps' && cmd !== 'symbolicate') return -1;
  const sub = cmd === 'symbolicate' ? 'symbolicate' : rest[0];
  const dataDir = flags['data-dir'];
  if (!dataDir && !flags.url)
    throw new Error(`${cmd}: give --data-dir DIR (embedded store) or --url URL (a server)`);
  const client = flags.url
    ? createClient({
        url: flags.url,
        username: flags.user ?? 'default',
        password: flags.password ?? '',
        database,
      })
    : undefined;
  const store = client ? clickhouseStore(sqlClient(client), database) : directoryStore(mapsDir(dataDir!));
  const maps = openSourceMaps(store);
  try {
    if (sub === 'upload') {
      const dir = rest[1];
      if (!flags.release || !dir)
        throw new Error('sourcemaps upload: --release VERSION and a folder of .map files are required');
      const r = await maps.upload(dir, flags.release, flags.service);
      if (!r.files.length) throw new Error(`sourcemaps upload: no .map files under ${dir}`);
      out(`uploaded ${r.files.length} map(s) for release ${flags.release}: ${r.files.join(', ')}\n`);
      if (r.composed.length) out(`composed two-layer maps: ${r.composed.join(', ')}\n`);
      if (client) {
        const p = await symbolicatePending(sqlClient(client), store, { database, release: flags.release });
        out(`symbolicated ${p.symbolicated} stored exception stack(s) of release ${flags.release}\n`);
      } else out(`a running \`mp-otel up --data-dir ${dataDir}\` symbolicates stored exceptions with them\n`);
      return 0;
    }
    if (sub === 'apply') {
      if (!client)
        throw new Error('sourcemaps apply: --url URL (mp-otel up symbolicates its own data directory)');
      if (!flags.watch) {
        const p = await symbolicatePending(sqlClient(client), store, { database, release: flags.release });
        out(`symbolicated ${p.symbolicated} stack(s); ${p.withoutMaps} without maps yet\n`);
        return 0;
      }
      const stop = startSymbolication(client, store, database, 10_000, (l) => out(`${l}\n`));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await stop();
      return 0;
    }
    if (sub === 'symbolicate') {
      if (!flags.release)
        throw new Error('symbolicate: --release VERSION is required (the stack comes on stdin)');
      const r = await maps.symbolicate(await readStdin(), flags.release, flags.service);
      out(`${r.text}\n`);
      if (!r.mapped) process.stderr.write(`no map covered any frame (release ${flags.release})\n`);
      return 0;
    }
    throw new Error(`unknown sourcemaps command ${sub ?? ''}\n${SOURCEMAP_USAGE}`);
  } finally {
    await client?.close();
  }
}
