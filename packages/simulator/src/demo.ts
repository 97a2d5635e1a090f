// `npm run demo` / `mp-otel demo`: the seed incident replayed end to end on this machine alone. The
// embedded store (chDB) starts, the seed scenario's fleet runs the real SDK against the real image service,
// a live overview prints each simulated minute, the alert rules are evaluated as Grafana would, the
// diagnosis names the culprit the moment the 400-ratio alert fires, and the HTML report is written.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { type Diagnosis, diagnose, formatDiagnosis, renderReport } from '@mp-otel/diagnose';
import type { Scenario } from './scenario.js';
import { simulate } from './simulate.js';

export interface DemoStore {
  otlpUrl: string;
  clickhouseUrl: string;
  client: ClickHouseClient;
  database: string;
  flush(): Promise<void>;
}

export interface AlertResult {
  rule: string;
  firing: boolean;
  /** one line saying what fired and why (value, threshold) */
  text?: string;
}

export interface DemoOptions {
  store: DemoStore;
  scenario: Scenario;
  ipRanges?: Array<{ ip_start: number; ip_end: number; province: string; carrier: string }>;
  /** evaluates the alert rules at a moment (the same SQL Grafana's provisioned rules run) */
  alerts?: (atMs: number) => Promise<AlertResult[]>;
  reportPath: string;
  print?: (line: string) => void;
}

export interface DemoResult {
  diagnosis: Diagnosis;
  /** when the first rule fired, and which */
  alert?: { rule: string; atMs: number };
  /** when diagnose first named the expected culprit (simulated epoch ms) */
  namedAtMs?: number;
  faultAtMs?: number;
  reportPath: string;
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)}%`;

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const print = o.print ?? ((l: string) => console.log(l));
  const { store, scenario } = o;
  const q = { client: store.client, database: store.database };
  let alert: DemoResult['alert'];
  let named: { atMs: number; d: Diagnosis } | undefined;
  let busy = false;

  print(`mp-otel demo: replaying "${scenario.name}" — ${scenario.description ?? ''}`);
  print(
    `  ${scenario.clients} simulated mini-program clients (the real SDK), ${scenario.duration_minutes} simulated minutes at ×${scenario.speed}`,
  );
  if (scenario.scale)
    print(
      `  seed scale: ${scenario.scale.users} users in all — the other ${scenario.scale.users - scenario.clients} generated as the SDK would emit them, through the same receiver`,
    );
  print(`  store: embedded ClickHouse (chDB) at ${store.clickhouseUrl}, OTLP at ${store.otlpUrl}\n`);
  // Each row: the time now, the client-layer SLIs of the minute before last (its telemetry has landed),
  // and the rules firing now.
  print(
    '  now    minute   upload.image: req  errors  p99     download.image: req  errors  p99     alerts firing',
  );

  // Each simulated minute: the overview of the minute before last (its telemetry has landed by then),
  // the alert rules, and — once a rule fires — the diagnosis. On a busy machine a report can take longer
  // than a simulated minute: the minutes that passed meanwhile are reported afterwards, in order, each as
  // of its own time (every query takes that minute as "now"), so the output does not depend on the load.
  let nextMinuteMs: number | undefined;
  let latestMinuteMs = 0;
  let reporting: Promise<void> = Promise.resolve();
  const onMinute = (minuteStartMs: number): Promise<void> => {
    latestMinuteMs = Math.max(latestMinuteMs, minuteStartMs);
    if (busy) return reporting; // the running report catches this minute up when it ends
    busy = true;
    reporting = (async () => {
      try {
        for (;;) {
          const m = nextMinuteMs ?? minuteStartMs;
          await reportMinute(m).catch((err: Error) =>
            print(`  ${hhmm(m)}  (the report of this minute failed: ${err.message})`),
          );
          nextMinuteMs = m + 60_000;
          if (nextMinuteMs > latestMinuteMs) break;
        }
      } finally {
        busy = false;
      }
    })();
    return reporting;
  };
  const reportMinute = async (minuteStartMs: number) => {
    await store.flush();
    const shown = Math.floor(minuteStartMs / 60_000) * 60_000 - 2 * 60_000; // a whole cube minute
    const rs = (await (
      await store.client.query({
        query: `SELECT Route AS route, sum(Requests) AS n, sum(Errors) AS e,
                       quantilesTDigestWeightedMerge(0.5, 0.9, 0.95, 0.99)(LatencyMs)[4] AS p99
                  FROM ${store.database}.mp_sli_1m
                 WHERE Layer = 'client' AND Minute = toDateTime({m:UInt32}) GROUP BY Route`,
        query_params: { m: Math.floor(shown / 1000) },
        format: 'JSONEachRow',
      })
    ).json()) as Array<{ route: string; n: number; e: number; p99: number }>;
    const cell = (route: string) => {
      const r = rs.find((x) => x.route === route);
      if (!r || Number(r.n) === 0) return `${'—'.padStart(5)}  ${''.padStart(6)}  ${''.padStart(6)}`;
      return `${String(Math.round(Number(r.n))).padStart(5)}  ${pct(Number(r.e) / Number(r.n))}  ${`${Math.round(Number(r.p99))}ms`.padStart(6)}`;
    };
    const firing = o.alerts ? (await o.alerts(minuteStartMs)).filter((a) => a.firing) : [];
    print(
      `  ${hhmm(minuteStartMs)}  ${hhmm(shown)}    ${cell('upload.image')}          ${cell('download.image')}   ${firing.map((a) => a.rule).join(', ') || '—'}`,
    );
    if (firing.length > 0 && !alert) {
      alert = { rule: firing[0]!.rule, atMs: minuteStartMs };
      const a = firing[0]!;
      print(`\n  ALERT FIRING at ${hhmm(minuteStartMs)}: ${a.text ?? a.rule}`);
    }
    if (alert && !named) {
      const d = await diagnose({ ...q, at: minuteStartMs });
      if (d.culprits[0]) {
        named = { atMs: minuteStartMs, d };
        print(`  diagnose at ${hhmm(minuteStartMs)} (${d.elapsedMs} ms):`);
        for (const line of formatDiagnosis(d).split('\n')) print(`    ${line}`);
        print('');
      }
    }
  };

  const sim = await simulate(scenario, { otlpUrl: store.otlpUrl, ipRanges: o.ipRanges, onMinute });
  await reporting; // the minutes still being reported, before the summary
  await store.flush();
  const fault = sim.faults[0];
  const final = await diagnose(q);
  print(
    `\n  after ${sim.realSeconds.toFixed(0)} s real (${scenario.duration_minutes} simulated minutes): ${JSON.stringify(sim.outcomes)}`,
  );
  if (sim.crowd)
    print(
      `  generated users: ${sim.crowd.requests} requests, ${sim.crowd.clientSpans + sim.crowd.serverSpans} spans in ${sim.crowd.posts} POSTs (the receiver caught up ${sim.crowd.drainSeconds.toFixed(1)} s after the clock stopped)`,
    );
  print('  final diagnosis:');
  for (const line of formatDiagnosis(final).split('\n')) print(`    ${line}`);
  if (fault && named) {
    print(
      `\n  fault injected at ${hhmm(fault.fromMs)}; alert at ${alert ? hhmm(alert.atMs) : '—'}; culprit named at ${hhmm(named.atMs)}: ${((named.atMs - fault.fromMs) / 60_000).toFixed(1)} simulated minutes after the fault began.`,
    );
  }
  const events = [
    ...(fault ? [{ atMs: fault.fromMs, label: `fault injected: ${fault.name}` }] : []),
    ...(alert ? [{ atMs: alert.atMs, label: `alert fired: ${alert.rule}` }] : []),
    ...(named ? [{ atMs: named.atMs, label: 'culprit named by mp-otel diagnose' }] : []),
  ];
  const reportPath = resolve(o.reportPath);
  writeFileSync(
    reportPath,
    await renderReport({
      ...q,
      diagnosis: final,
      events,
      title: `mp-otel incident report: ${scenario.name}`,
    }),
  );
  print(`  report: ${reportPath}`);
  return { diagnosis: final, alert, namedAtMs: named?.atMs, faultAtMs: fault?.fromMs, reportPath };
}

/** The file that marks a folder as created by `mp-otel demo` (and so the demo's to empty). */
export const DEMO_MARKER = '.mp-otel-demo';

/**
 * Gives the demo an empty data directory. Only a folder the demo created itself (it holds DEMO_MARKER) is
 * emptied; a missing or empty folder is created and marked; any other folder is refused untouched —
 * `--data-dir ~` must never delete anything.
 */
export function freshDir(dir: string): string {
  const marker = join(dir, DEMO_MARKER);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new Error(`--data-dir ${dir}: not a folder (nothing was changed)`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      if (!existsSync(marker))
        throw new Error(
          `--data-dir ${dir}: the folder is not empty and was not created by mp-otel demo (no ${DEMO_MARKER} in it); nothing was deleted. Choose a new or empty folder${entries.includes('report.html') ? ' (a demo folder from before this check has no marker: remove it yourself if you no longer need it)' : ''}.`,
        );
      // the demo's own folder from an earlier run: remove what is in it, keep the folder and its marker
      for (const e of entries) if (e !== DEMO_MARKER) rmSync(join(dir, e), { recursive: true, force: true });
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(marker, 'created by mp-otel demo: the demo empties this folder on its next run\n');
  return dir;
}
