// `mp-otel up` in-process: chDB + the ClickHouse-compatible HTTP front + the OTLP receiver. Migrations,
// the catalog and the geo database are applied through @clickhouse/client against the front, exactly as
// they would be against a ClickHouse server.
import { join, resolve } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { type Catalog, loadCatalog } from '@mp-otel/contracts';
import { announceEndpoint, type Credentials, ROLES, resolveCredentials } from './auth.js';
import { defaultCatalogPath, loadCatalogIntoClickHouse } from './catalog.js';
import { ChdbStore } from './chdb-store.js';
import { startClickHouseHttp } from './clickhouse-http.js';
import { loadGeoIntoClickHouse } from './geo.js';
import { type MigrateResult, migrate, resolveSchemaOptions, type SchemaOptions } from './migrate.js';
import { type OtlpReceiver, type ReceiverOptions, startReceiver } from './otlp/receiver.js';
import type { Role } from './sql-guard.js';

const ROLE_LABEL: Record<Role, string> = {
  admin: 'admin',
  reader: 'read-only',
  writer: 'insert-only',
  migrator: 'DDL',
};

const isLoopback = (h: string) => h === 'localhost' || h === '::1' || /^127\./.test(h);

export interface EmbeddedOptions
  extends SchemaOptions,
    Omit<ReceiverOptions, 'store' | 'port' | 'host' | 'database'> {
  /** chDB data directory (default ./.data/mp-otel). One per process. */
  dataDir?: string;
  /** OTLP/HTTP port (default 4318; 0 = any free port). */
  otlpPort?: number;
  /** ClickHouse HTTP port (default 8123; 0 = any free port). */
  httpPort?: number;
  /** Address of the OTLP listener (default 127.0.0.1; 0.0.0.0 to take telemetry from phones on the LAN). */
  otlpHost?: string;
  /** Address of the SQL listener (default 127.0.0.1). Opening the OTLP listener never opens this one. */
  sqlHost?: string;
  /** Shorthand for both otlpHost and sqlHost (kept for compatibility; the specific options win). */
  host?: string;
  /** Host names the SQL endpoint may be addressed as besides loopback names and IP literals. */
  allowedHosts?: string[];
  /** Where MP_OTEL_CLICKHOUSE_* are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Record the endpoint in the per-user registry so `mp-otel query` finds its credentials (the CLI's `up`). */
  announce?: boolean;
  /** Catalog file to load into <db>.mp_routes (default: the example catalog packaged with the store; false = skip). */
  catalog?: string | false;
  /** Load the ip2region database into <db>.mp_ip_geo (default true; takes a few seconds the first time). */
  geo?: boolean;
  /** Log lines (default console.log; pass () => {} to silence). */
  log?: (line: string) => void;
}

export interface Embedded {
  otlpUrl: string;
  clickhouseUrl: string;
  /** the SQL endpoint's users (admin, migrator, writer = insert-only, reader = read-only) */
  credentials: Credentials;
  /** where generated passwords are kept (owner-only) */
  credentialsFile: string;
  database: string;
  dataDir: string;
  migrations: MigrateResult;
  receiver: OtlpReceiver;
  /** the chDB session (one per process) */
  store: ChdbStore;
  /** a @clickhouse/client connected to the embedded endpoint as the administrator (closed by close()) */
  client: ClickHouseClient;
  /** writes every queued row now */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function startEmbedded(opts: EmbeddedOptions = {}): Promise<Embedded> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const dataDir = resolve(opts.dataDir ?? '.data/mp-otel');
  const otlpHost = opts.otlpHost ?? opts.host ?? '127.0.0.1';
  const sqlHost = opts.sqlHost ?? opts.host ?? '127.0.0.1';
  const store = new ChdbStore(dataDir);
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const creds = resolveCredentials(dataDir, opts.env ?? process.env);
    const { credentials } = creds;
    const http = await startClickHouseHttp({
      store,
      credentials,
      port: opts.httpPort ?? 8123,
      host: sqlHost,
      allowedHosts: opts.allowedHosts,
    });
    closers.push(http.close);
    const as = (role: Role) => ({
      username: credentials[role].username,
      password: credentials[role].password,
    });
    const boot = createClient({ url: http.url, ...as('migrator') });
    const migrations = await migrate(boot, opts).finally(() => boot.close());
    const database = migrations.database;
    for (const ch of migrations.changed)
      log(`mp-otel: warning: migration ${ch.version} (${ch.name}) changed after ${database} applied it`);
    const client = createClient({ url: http.url, database, ...as('admin') });
    closers.push(() => client.close());
    let apps: Catalog['apps'];
    if (opts.catalog !== false) {
      const cat = loadCatalog(opts.catalog ?? defaultCatalogPath());
      const n = await loadCatalogIntoClickHouse(client, cat, database);
      apps = cat.apps;
      log(`mp-otel: catalog loaded (${n} routes, ${apps?.length ?? 0} apps with ingest keys)`);
    }
    if (opts.geo !== false) {
      const n = await loadGeoIntoClickHouse(client, database);
      log(`mp-otel: ip geo database ready (${n} ranges, ip2region)`);
    }
    const rcv = await startReceiver({
      retentionDays: resolveSchemaOptions(opts).ttlDays,
      apps,
      walDir: join(dataDir, 'ingest-log'),
      log,
      ...opts,
      store,
      database,
      port: opts.otlpPort ?? 4318,
      host: otlpHost,
    });
    closers.push(rcv.close);
    const ro = rcv.receiver.options;
    log(`mp-otel: OTLP/HTTP receiver on ${rcv.url}/v1/{traces,logs,metrics} (health: ${rcv.url}/health)`);
    log(
      `mp-otel: ingest keys ${ro.requireKeys ? 'required' : 'checked when sent (loopback-only listener)'}; ` +
        `X-Real-IP/X-Forwarded-For trusted from ${ro.trustedProxies.join(', ') || 'nobody'}`,
    );
    log(`mp-otel: ClickHouse HTTP endpoint on ${http.url} (database ${database}, data in ${dataDir})`);
    const users = (['admin', 'reader', 'writer', 'migrator'] as const)
      .map((r) => `${credentials[r].username} (${ROLE_LABEL[r]})`)
      .join(', ');
    const kept = ROLES.filter((r) => !creds.fromEnv.includes(r));
    log(
      `mp-otel: SQL users ${users}; ${kept.length > 0 ? `passwords ${creds.generated.length > 0 ? 'generated' : 'kept'} in ${creds.file} (owner-only)` : 'passwords from the environment'}${creds.fromEnv.length > 0 && kept.length > 0 ? `, ${creds.fromEnv.map((r) => credentials[r].username).join(', ')} from the environment` : ''}`,
    );
    if (!isLoopback(sqlHost))
      log(
        `mp-otel: warning: the SQL endpoint listens on ${sqlHost}, reachable from other hosts (use --sql-host 127.0.0.1 to keep it local)`,
      );
    if (opts.announce) {
      const forget = announceEndpoint(http.url, creds.file);
      closers.push(async () => forget());
    }
    let closed = false;
    return {
      otlpUrl: rcv.url,
      clickhouseUrl: http.url,
      credentials,
      credentialsFile: creds.file,
      database,
      dataDir,
      migrations,
      receiver: rcv.receiver,
      store,
      client,
      flush: () => rcv.receiver.writer.flush(),
      close: async () => {
        if (closed) return;
        closed = true;
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
