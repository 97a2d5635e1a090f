// mp-otel CLI: up (embedded store), query, migrate, catalog, geo; simulate, diagnose, rca, report, alerts, demo.
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { startConsole } from '@mp-otel/console';
import { CatalogError, loadCatalog } from '@mp-otel/contracts';
import { directoryStore } from '@mp-otel/sourcemaps';
import {
  defaultCatalogPath,
  loadCatalogIntoClickHouse,
  loadGeoIntoClickHouse,
  migrate,
  migrationScript,
  missingNodeFlags,
  resolveSchemaOptions,
  startEmbedded,
} from '@mp-otel/store';
import { clientAuth } from './credentials.js';
import {
  checkRetentionEnv,
  choiceFlag,
  daysFlag,
  hostFlag,
  hostListFlag,
  portFlag,
  UsageError,
  urlFlag,
} from './flags.js';
import { INCIDENT_USAGE, incidentCommand } from './incident-commands.js';
import { INGEST_OPTIONS, INGEST_USAGE, ingestOptions } from './ingest-flags.js';
import { RCA_USAGE, rcaCommand } from './rca-commands.js';
import { mapsDir, SOURCEMAP_USAGE, sourcemapCommand, startSymbolication } from './sourcemap-commands.js';
import { formatTable } from './table.js';

const USAGE = `usage:
  mp-otel up [--data-dir DIR] [--otlp-port 4318] [--http-port 8123]
             [--otlp-host 127.0.0.1] [--sql-host 127.0.0.1] [--host ADDR (both)] [--allowed-hosts a,b]
             [--database otel] [--ttl-days 30] [--catalog FILE] [--no-geo] [--allow-changed-migrations]
             [--console-port 4000]   (the browser console, on 127.0.0.1)
${INGEST_USAGE}  mp-otel query "<SQL>" [--url http://127.0.0.1:8123] [--database otel] [--data-dir DIR] [--user U]
  mp-otel migrate [--url URL] [--database otel] [--ttl-days 30] [--user U]
                  [--allow-changed-migrations] [--cluster NAME] [--print]
  mp-otel credentials [--role reader|writer|migrator|admin] [--url URL | --data-dir DIR]
                      (CLICKHOUSE_USER=… / CLICKHOUSE_PASSWORD=… lines for Grafana or a collector)
  mp-otel catalog check [--catalog FILE]
  mp-otel catalog load [--catalog FILE] [--url URL] [--database otel]
  mp-otel geo load [--url URL] [--database otel]
${INCIDENT_USAGE}${RCA_USAGE}${SOURCEMAP_USAGE}environment: MP_OTEL_CLICKHOUSE_URL, MP_OTEL_DB, MP_OTEL_TTL_DAYS, MP_OTEL_CUBE_TTL_DAYS, MP_OTEL_ROLLUP_TTL_DAYS, MP_OTEL_CLUSTER (migrate),
  MP_OTEL_CLICKHOUSE_USER / MP_OTEL_CLICKHOUSE_PASSWORD (the SQL endpoint's administrator; also
  _READER_, _WRITER_, _MIGRATOR_ variants), MP_OTEL_DATA_DIR
SQL credentials: without --user/MP_OTEL_CLICKHOUSE_PASSWORD the CLI uses the ones a running \`mp-otel up\`
  keeps in its data directory (found by URL, or in --data-dir / .data/mp-otel).
`;

export async function main(argv: string[]): Promise<number> {
  // `--scale` alone means a million users (`mp-otel demo --scale`); `--scale N` says how many
  const scaleAt = argv.indexOf('--scale');
  if (scaleAt >= 0 && (argv[scaleAt + 1] ?? '-').startsWith('-'))
    argv = [...argv.slice(0, scaleAt + 1), '1000000', ...argv.slice(scaleAt + 1)];
  try {
    return await run(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`mp-otel: ${(err as Error).message}\n(mp-otel --help for usage)\n`);
      return 2;
    }
    if ((err as { code?: string }).code === '516') {
      process.stderr.write(
        `mp-otel: ${(err as Error).message}\n(the SQL endpoint wants a user: --user U with MP_OTEL_CLICKHOUSE_PASSWORD, or run this where \`mp-otel up\` keeps its data directory, or --data-dir DIR)\n`,
      );
      return 1;
    }
    throw err;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      'otlp-port': { type: 'string' },
      'http-port': { type: 'string' },
      host: { type: 'string' },
      'otlp-host': { type: 'string' },
      'sql-host': { type: 'string' },
      'allowed-hosts': { type: 'string' },
      database: { type: 'string' },
      'ttl-days': { type: 'string' },
      catalog: { type: 'string' },
      'no-geo': { type: 'boolean' },
      'allow-changed-migrations': { type: 'boolean' },
      ...INGEST_OPTIONS,
      url: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      scenario: { type: 'string' },
      'otlp-url': { type: 'string' },
      scale: { type: 'string' },
      route: { type: 'string' },
      kpi: { type: 'string' },
      at: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      serve: { type: 'boolean' },
      release: { type: 'string' },
      service: { type: 'string' },
      watch: { type: 'boolean' },
      'console-port': { type: 'string' },
      cluster: { type: 'string' },
      print: { type: 'boolean' },
      csv: { type: 'string' },
      table: { type: 'string' },
      time: { type: 'string' },
      bad: { type: 'string' },
      total: { type: 'string' },
      dims: { type: 'string' },
      'max-dimensions': { type: 'string' },
    },
  });
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  // every flag value is checked before anything starts
  const ttlDays = daysFlag('--ttl-days', values['ttl-days']);
  checkRetentionEnv();
  const otlpPort = portFlag('--otlp-port', values['otlp-port']);
  const httpPort = portFlag('--http-port', values['http-port']);
  const consolePort = portFlag('--console-port', values['console-port']) ?? 4000;
  const host = hostFlag('--host', values.host);
  const otlpHost = hostFlag('--otlp-host', values['otlp-host']);
  const sqlHost = hostFlag('--sql-host', values['sql-host']);
  const allowedHosts = hostListFlag('--allowed-hosts', values['allowed-hosts']);
  const url = urlFlag('--url', values.url ?? process.env.MP_OTEL_CLICKHOUSE_URL) ?? 'http://127.0.0.1:8123';
  const database = resolveSchemaOptions({ database: values.database, migrationsDir: '.' }).database;
  const client = (withDb = false, role: 'admin' | 'migrator' = 'admin') => {
    const auth = clientAuth({
      user: values.user,
      password: values.password,
      url,
      dataDir: values['data-dir'],
      role,
    });
    return createClient({
      url,
      username: auth.username,
      password: auth.password,
      ...(withDb ? { database } : {}),
    });
  };

  switch (cmd) {
    case 'up': {
      const missing = missingNodeFlags();
      if (missing.length > 0) {
        // heap-sizing flags only take effect on node's command line (node-flags.ts says why they matter)
        console.log(
          `mp-otel: for full-speed ingest start node with ${missing.join(' ')} (node ${missing.join(' ')} ${process.argv[1] ?? 'mp-otel'} up …): without it V8 runs a full collection per young-generation fill, ~10% more CPU a span`,
        );
      }
      const emb = await startEmbedded({
        dataDir: values['data-dir'],
        otlpPort,
        httpPort,
        host,
        otlpHost,
        sqlHost,
        allowedHosts,
        database: values.database,
        ttlDays,
        catalog: values.catalog,
        geo: !values['no-geo'],
        allowChanged: values['allow-changed-migrations'],
        ...ingestOptions(values),
        // `mp-otel query` (from any directory) finds this endpoint's credentials
        announce: true,
      });
      // exception stacks are symbolicated with the maps uploaded into the data directory
      const stopSymbolication = startSymbolication(
        emb.client,
        directoryStore(mapsDir(emb.dataDir)),
        emb.database,
        10_000,
        console.log,
      );
      const consoleServer = await startConsole({
        store: emb.store,
        database: emb.database,
        catalog: loadCatalog(values.catalog ?? defaultCatalogPath()),
        port: consolePort,
      }).catch(async (err: Error) => {
        await stopSymbolication();
        await emb.close();
        throw new Error(
          `the console cannot listen on 127.0.0.1:${consolePort} (${err.message}); pick another --console-port`,
        );
      });
      console.log(`mp-otel: console on ${consoleServer.url}`);
      console.log('mp-otel: ready. Ctrl-C to stop (queued rows are flushed first).');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      console.log('mp-otel: shutting down…');
      await consoleServer.close();
      await stopSymbolication();
      await emb.close();
      return 0;
    }
    case 'query': {
      const sql = rest.join(' ').trim();
      if (!sql) {
        process.stderr.write(USAGE);
        return 1;
      }
      let c = client(true);
      let emb: Awaited<ReturnType<typeof startEmbedded>> | undefined;
      if (values['data-dir']) {
        emb = await startEmbedded({
          dataDir: values['data-dir'],
          otlpPort: 0,
          httpPort: 0,
          catalog: false,
          geo: false,
          log: () => {},
        });
        c = emb.client;
      }
      try {
        if (/^\s*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|\()/i.test(sql)) {
          const rs = await c.query({ query: sql, format: 'JSON' });
          const res = await rs.json<Record<string, unknown>>();
          process.stdout.write(
            formatTable(
              res.data as Record<string, unknown>[],
              res.meta?.map((m) => m.name),
            ),
          );
        } else {
          await c.command({ query: sql });
          process.stdout.write('Ok.\n');
        }
      } finally {
        if (emb) await emb.close();
        else await c.close();
      }
      return 0;
    }
    case 'migrate': {
      const schema = {
        database: values.database,
        ttlDays,
        allowChanged: values['allow-changed-migrations'],
        cluster: values.cluster ?? process.env.MP_OTEL_CLUSTER,
      };
      // --print: the DDL a run would execute, `;`-separated, without connecting anywhere
      if (values.print) {
        process.stdout.write(migrationScript(schema));
        return 0;
      }
      const c = client(false, 'migrator');
      try {
        const r = await migrate(c, schema);
        console.log(
          `database ${r.database}: applied [${r.applied.join(', ')}], already applied [${r.skipped.join(', ')}]`,
        );
        for (const ch of r.changed)
          console.log(`warning: migration ${ch.version} (${ch.name}) changed after it was applied`);
      } finally {
        await c.close();
      }
      return 0;
    }
    case 'catalog': {
      const cat = loadCatalog(values.catalog ?? defaultCatalogPath());
      if (rest[0] === 'check') {
        console.log(`catalog ok: ${cat.routes.length} routes`);
        return 0;
      }
      if (rest[0] !== 'load') throw new CatalogError(`unknown catalog command ${rest[0] ?? ''}`);
      const c = client();
      try {
        console.log(
          `loaded ${await loadCatalogIntoClickHouse(c, cat, database)} routes into ${database}.mp_routes`,
        );
      } finally {
        await c.close();
      }
      return 0;
    }
    case 'credentials': {
      // one role's user and password as environment lines, for a collector (CLICKHOUSE_USER/PASSWORD of
      // collector/config.yaml, role writer) or Grafana (role reader) pointed at `mp-otel up`
      const role =
        choiceFlag('--role', values.role, ['admin', 'migrator', 'writer', 'reader'] as const) ?? 'reader';
      const auth = clientAuth({ url, dataDir: values['data-dir'], role, strictRole: true });
      if (auth.source === 'none') {
        process.stderr.write(
          `mp-otel: no credentials found for ${url} (is \`mp-otel up\` running? --data-dir DIR reads DIR/mp-otel-credentials.json)\n`,
        );
        return 1;
      }
      const q = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
      process.stdout.write(`CLICKHOUSE_USER=${q(auth.username)}\nCLICKHOUSE_PASSWORD=${q(auth.password)}\n`);
      return 0;
    }
    case 'geo': {
      const c = client();
      try {
        console.log(
          `loaded ${await loadGeoIntoClickHouse(c, database, true)} ranges into ${database}.mp_ip_geo`,
        );
      } finally {
        await c.close();
      }
      return 0;
    }
    default: {
      const maps = await sourcemapCommand(cmd, rest, values, database);
      if (maps >= 0) return maps;
      const rca = await rcaCommand(cmd, values, database);
      if (rca >= 0) return rca;
      const code = await incidentCommand(cmd, { ...values, url: values.url }, database);
      if (code >= 0) return code;
      process.stderr.write(`unknown command ${cmd}\n${USAGE}`);
      return 1;
    }
  }
}
