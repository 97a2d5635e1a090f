// mp-otel simulate | diagnose | report | alerts | demo: diagnosis (@mp-otel/diagnose), the alert rules
// (@mp-otel/grafana) and the simulator (@mp-otel/simulator, dev tooling: an optional peer, present in the
// repository), on the embedded store (--data-dir, started in-process) or on any ClickHouse over HTTP (--url).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { startConsole } from '@mp-otel/console';
import { loadCatalog } from '@mp-otel/contracts';
import { diagnose, formatDiagnosis, type Kpi, renderReport } from '@mp-otel/diagnose';
import { evaluateAlerts, formatAlerts } from '@mp-otel/grafana';
import { defaultCatalogPath, type Embedded, readIp2Region, startEmbedded } from '@mp-otel/store';
import { withTermination } from './children.js';
import { choiceFlag, portFlag, UsageError } from './flags.js';
import { openStore } from './open-store.js';

/** The simulator is dev tooling, installed with the repository (not a dependency of the published CLI). */
async function simulator(): Promise<typeof import('@mp-otel/simulator')> {
  try {
    return await import('@mp-otel/simulator');
  } catch (err) {
    throw new Error(
      `simulate and demo need @mp-otel/simulator, which ships with the mp-otel repository (npm install there): ${(err as Error).message}`,
    );
  }
}

export const INCIDENT_USAGE = `  mp-otel simulate --scenario FILE [--scale USERS] [--data-dir DIR | --otlp-url URL]
  mp-otel diagnose [--route R] [--kpi error_rate|slow_ratio|volume] [--at TIME] [--json]
                   [--data-dir DIR | --url URL] [--database otel]
  mp-otel report [--out report.html] [--route R] [--at TIME] [--data-dir DIR | --url URL]
  mp-otel alerts [--at TIME] [--catalog FILE] [--data-dir DIR | --url URL]   (the provisioned Grafana rules' SQL)
  mp-otel demo [--scenario FILE] [--scale [USERS]] [--data-dir .data/demo] [--serve] [--console-port 4000]
  (--scale: a seed-scale replay, USERS in all (default 1000000), a sample of them the real SDK;
   demo --scale without --scenario replays the seed incident at scale)
  (TIME: ISO 8601 or epoch milliseconds; default: the newest minute in the store)
`;

export interface IncidentArgs {
  'data-dir'?: string;
  url?: string;
  database?: string;
  user?: string;
  password?: string;
  scenario?: string;
  'otlp-url'?: string;
  scale?: string;
  route?: string;
  kpi?: string;
  at?: string;
  out?: string;
  json?: boolean;
  serve?: boolean;
  catalog?: string;
  'console-port'?: string;
}

function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--at: not a time (ISO 8601 or epoch milliseconds): ${value}`);
  // the diagnosis looks an hour back from --at; before 2000 there is no telemetry to look at
  if (ms < Date.UTC(2000, 0, 1) || ms > Date.now() + 366 * 86_400_000)
    throw new UsageError(`--at: ${value} is not a moment telemetry can come from`);
  return ms;
}

/** --scale USERS onto a scenario's scale field (the rest of the field, or its defaults, kept). */
function withScale<T extends { scale?: { users: number } }>(scenario: T, scale: string | undefined): T {
  if (scale === undefined) return scenario;
  const users = Number(scale);
  if (!Number.isInteger(users) || users < 1 || users > 100_000_000)
    throw new UsageError(`--scale: a number of users from 1 to 100000000, not ${scale}`);
  return { ...scenario, scale: { ...scenario.scale, users } };
}

const KPIS = ['error_rate', 'slow_ratio', 'volume'] as const satisfies readonly Kpi[];

/** diagnose/report/alerts on a store without data: a clear error rather than a ClickHouse one. */
async function requireData(store: { client: ClickHouseClient; database: string }, at: number | undefined) {
  if (at !== undefined) return;
  const rs = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.mp_sli_1m`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: string }>();
  if (Number(row?.n ?? 0) === 0)
    throw new UsageError(
      `no telemetry in ${store.database}.mp_sli_1m yet: nothing to diagnose (send some with \`mp-otel simulate\` or the SDK, or point --data-dir/--url at a store with data)`,
    );
}

function ipRanges() {
  return [...readIp2Region()].filter((r) => r.carrier && r.province);
}

export async function incidentCommand(cmd: string, v: IncidentArgs, database: string): Promise<number> {
  switch (cmd) {
    case 'simulate': {
      if (!v.scenario) throw new Error('simulate needs --scenario FILE');
      const { loadScenario, simulate } = await simulator();
      const scenario = withScale(loadScenario(v.scenario), v.scale);
      let emb: Embedded | undefined;
      let otlpUrl = v['otlp-url'];
      if (!otlpUrl) {
        emb = await startEmbedded({ dataDir: v['data-dir'], otlpPort: 0, httpPort: 0, log: () => {} });
        otlpUrl = emb.otlpUrl;
      }
      try {
        const r = await withTermination(
          () => simulate(scenario, { otlpUrl, ipRanges: ipRanges(), log: (l) => console.log(l) }),
          async () => {
            await emb?.close();
          },
        );
        await emb?.flush();
        console.log(
          `simulated ${scenario.duration_minutes} minutes in ${r.realSeconds.toFixed(0)} s: ${new Date(r.simStartMs).toISOString()} … ${new Date(r.simEndMs).toISOString()}`,
        );
        for (const f of r.faults)
          console.log(
            `fault "${f.name}" (${f.effect}): ${new Date(f.fromMs).toISOString()} … ${new Date(f.toMs).toISOString()}`,
          );
        console.log(`actions: ${JSON.stringify(r.outcomes)}; noise requests: ${r.noiseRequests}`);
        if (r.crowd) console.log(`generated users: ${JSON.stringify(r.crowd)}`);
      } finally {
        await emb?.close();
      }
      return 0;
    }
    case 'diagnose':
    case 'report': {
      const kpi = choiceFlag('--kpi', v.kpi, KPIS);
      const at = parseTime(v.at);
      const store = await openStore(v, database);
      try {
        await requireData(store, at);
        const d = await diagnose({
          client: store.client,
          database: store.database,
          route: v.route,
          kpi,
          at,
        });
        if (cmd === 'diagnose') {
          console.log(v.json ? JSON.stringify(d, null, 2) : formatDiagnosis(d));
          return 0;
        }
        const out = resolve(v.out ?? 'mp-otel-report.html');
        writeFileSync(
          out,
          await renderReport({ client: store.client, database: store.database, diagnosis: d }),
        );
        console.log(`report: ${out}`);
        return 0;
      } finally {
        await store.close();
      }
    }
    case 'alerts': {
      const at = parseTime(v.at);
      const store = await openStore(v, database);
      try {
        await requireData(store, at);
        const results = await evaluateAlerts({
          catalog: loadCatalog(v.catalog ?? defaultCatalogPath()),
          client: store.client,
          database: store.database,
          at,
        });
        console.log(formatAlerts(results));
        return 0;
      } finally {
        await store.close();
      }
    }
    case 'demo': {
      const { freshDir, loadScenario, runDemo, scenarioPath } = await simulator();
      const scenarioFile =
        v.scenario ?? scenarioPath(v.scale ? 'scale/seed-incident-scale' : 'seed-incident');
      // a folder the demo did not create is never emptied (freshDir refuses it)
      const dataDir = freshDir(resolve(v['data-dir'] ?? '.data/demo'));
      // the console (with --serve or --console-port): the run's dashboards and its incident, live
      const cport = portFlag('--console-port', v['console-port']) ?? (v.serve ? 4000 : undefined);
      const catalog = loadCatalog(v.catalog ?? defaultCatalogPath());
      const emb = await startEmbedded({
        dataDir,
        otlpPort: v.serve ? 4318 : 0,
        httpPort: v.serve ? 8123 : 0,
        log: () => {},
        // with --serve, `mp-otel query` finds this endpoint's credentials
        announce: v.serve === true,
      });
      const con =
        cport === undefined
          ? undefined
          : await startConsole({
              store: emb.store,
              database: emb.database,
              catalog,
              port: cport,
              alertIntervalMs: 2000,
            }).catch(async (err: Error) => {
              await emb.close();
              throw new Error(
                `the console cannot listen on 127.0.0.1:${cport} (${err.message}); pick another --console-port`,
              );
            });
      if (con) console.log(`mp-otel: console on ${con.url}`);
      try {
        // SIGINT/SIGTERM: the image-service nodes are stopped and the store closed before exiting
        const result = await withTermination(
          () =>
            runDemo({
              store: emb,
              scenario: withScale(loadScenario(scenarioFile), v.scale),
              ipRanges: ipRanges(),
              alerts: async (at) =>
                (await evaluateAlerts({ catalog, client: emb.client, database: emb.database, at })).map(
                  (r) => ({
                    rule: r.rule,
                    firing: r.firing,
                    text: formatAlerts([r]).split('\n')[1]?.replace(/\s+/g, ' '),
                  }),
                ),
              reportPath: resolve(dataDir, 'report.html'),
            }),
          async () => {
            await con?.close();
            await emb.close();
          },
        );
        if (v.serve) {
          console.log(
            `\nserving: OTLP ${emb.otlpUrl}, ClickHouse HTTP ${emb.clickhouseUrl} (database ${emb.database}; users and passwords in ${emb.credentialsFile})${con ? `, console ${con.url}` : ''}; Ctrl-C to stop`,
          );
          await new Promise<void>((r) => {
            process.once('SIGINT', () => r());
            process.once('SIGTERM', () => r());
          });
        }
        return result.diagnosis.culprits.length > 0 ? 0 : 1;
      } finally {
        await con?.close();
        await emb.close();
      }
    }
    default:
      return -1;
  }
}
