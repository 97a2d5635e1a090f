// mp-otel CLI: up (embedded store), query, migrate, catalog, geo; simulate, diagnose, rca, report, alerts, demo.
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { CatalogError, loadCatalog } from '@mp-otel/contracts';
import { directoryStore } from '@mp-otel/sourcemaps';
import {
  defaultCatalogPath,
  loadCatalogIntoClickHouse,
  loadGeoIntoClickHouse,
  migrate,
  resolveSchemaOptions,
  startEmbedded,
} from '@mp-otel/store';
import { INCIDENT_USAGE, incidentCommand } from './incident-commands.js';
import { RCA_USAGE, rcaCommand } from './rca-commands.js';
import { mapsDir, SOURCEMAP_USAGE, sourcemapCommand, startSymbolication } from './sourcemap-commands.js';
import { formatTable } from './table.js';

const USAGE = `usage:
  mp-otel up [--data-dir DIR] [--otlp-port 4318] [--http-port 8123] [--host 127.0.0.1]
             [--database otel] [--ttl-days 30] [--catalog FILE] [--no-geo] [--allow-changed-migrations]
  mp-otel query "<SQL>" [--url http://127.0.0.1:8123] [--database otel] [--data-dir DIR]
  mp-otel migrate [--url URL] [--database otel] [--ttl-days 30] [--user U --password P]
                  [--allow-changed-migrations]
  mp-otel catalog check [--catalog FILE]
  mp-otel catalog load [--catalog FILE] [--url URL] [--database otel]
  mp-otel geo load [--url URL] [--database otel]
${INCIDENT_USAGE}${RCA_USAGE}${SOURCEMAP_USAGE}environment: MP_OTEL_CLICKHOUSE_URL, MP_OTEL_DB, MP_OTEL_TTL_DAYS, MP_OTEL_CUBE_TTL_DAYS, MP_OTEL_ROLLUP_TTL_DAYS
`;

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      'otlp-port': { type: 'string' },
      'http-port': { type: 'string' },
      host: { type: 'string' },
      database: { type: 'string' },
      'ttl-days': { type: 'string' },
      catalog: { type: 'string' },
      'no-geo': { type: 'boolean' },
      'allow-changed-migrations': { type: 'boolean' },
      url: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      scenario: { type: 'string' },
      'otlp-url': { type: 'string' },
      route: { type: 'string' },
      kpi: { type: 'string' },
      at: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      serve: { type: 'boolean' },
      release: { type: 'string' },
      service: { type: 'string' },
      watch: { type: 'boolean' },
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
  const url = values.url ?? process.env.MP_OTEL_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
  const database = resolveSchemaOptions({ database: values.database, migrationsDir: '.' }).database;
  const client = (withDb = false) =>
    createClient({
      url,
      username: values.user ?? 'default',
      password: values.password ?? '',
      ...(withDb ? { database } : {}),
    });

  switch (cmd) {
    case 'up': {
      const emb = await startEmbedded({
        dataDir: values['data-dir'],
        otlpPort: num(values['otlp-port']),
        httpPort: num(values['http-port']),
        host: values.host,
        database: values.database,
        ttlDays: num(values['ttl-days']),
        catalog: values.catalog,
        geo: !values['no-geo'],
        allowChanged: values['allow-changed-migrations'],
      });
      // exception stacks are symbolicated with the maps uploaded into the data directory
      const stopSymbolication = startSymbolication(
        emb.client,
        directoryStore(mapsDir(emb.dataDir)),
        emb.database,
        10_000,
        console.log,
      );
      console.log('mp-otel: ready. Ctrl-C to stop (queued rows are flushed first).');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      console.log('mp-otel: shutting down…');
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
      const c = client();
      try {
        const r = await migrate(c, {
          database: values.database,
          ttlDays: num(values['ttl-days']),
          allowChanged: values['allow-changed-migrations'],
        });
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
