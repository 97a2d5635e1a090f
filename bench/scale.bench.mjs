// Seed-scale replay (`node bench/run.mjs scale`): the seed incident with a million users' worth of
// traffic (packages/simulator/scenarios/scale/seed-incident-scale.yaml; BENCH_SCALE_USERS overrides the
// number of users) — a sample of real SDK clients against the real image service, the rest generated as
// the SDK and the Node preset would emit them — through the embedded store's real OTLP receiver. Reports
// the spans ingested (and per simulated hour), the wall time, how long the receiver took to catch up after
// the clock stopped, the simulated minutes from onset to the culprit ranked first, and how long that
// diagnosis took.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spanSql } from '@mp-otel/contracts';
import { loadScenario, runScenario, scenarioPath } from '@mp-otel/simulator';
import { readIp2Region, startEmbedded } from '@mp-otel/store';

export default async function () {
  const scenario = loadScenario(scenarioPath('scale/seed-incident-scale'));
  if (process.env.BENCH_SCALE_USERS)
    scenario.scale = { ...scenario.scale, users: Number(process.env.BENCH_SCALE_USERS) };
  const work = mkdtempSync(join(tmpdir(), 'mp-otel-bench-scale-'));
  const emb = await startEmbedded({ dataDir: join(work, 'data'), otlpPort: 0, httpPort: 0, log: () => {} });
  const load = [loadavg()[0]];
  const sampler = setInterval(() => load.push(loadavg()[0]), 5_000);
  try {
    const started = Date.now();
    const o = await runScenario(scenario, {
      otlpUrl: emb.otlpUrl,
      ipRanges: [...readIp2Region()].filter((r) => r.carrier && r.province),
      client: emb.client,
      database: emb.database,
      flush: () => emb.flush(),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    const wall = (Date.now() - started) / 1000;
    const [row] = await (
      await emb.client.query({
        query: `SELECT count() AS spans, countIf(ResourceAttributes['mp.platform'] != '') AS client_spans
                  FROM ${emb.database}.otel_traces`,
        format: 'JSONEachRow',
      })
    ).json();
    const spans = Number(row.spans);
    // the cube's size at this traffic: rows of the full-dimension per-minute cube per stored span, by layer
    const cube = await (
      await emb.client.query({
        query: `SELECT Layer, sum(c) AS cube_rows, sum(s) AS spans FROM (
                  SELECT Layer, count() AS c, 0 AS s FROM ${emb.database}.mp_sli_1m FINAL GROUP BY Layer
                  UNION ALL
                  SELECT ${spanSql(emb.database).layer} AS Layer, 0, count() FROM ${emb.database}.otel_traces GROUP BY Layer
                ) GROUP BY Layer HAVING Layer != '' ORDER BY Layer`,
        format: 'JSONEachRow',
      })
    ).json();
    const perHour = (spans * 60) / scenario.duration_minutes;
    const crowd = o.simulation.crowd;
    const note = `${scenario.scale?.users} users, ${scenario.clients} real SDK clients, ${scenario.duration_minutes} simulated min at ×${scenario.speed}; load avg ${Math.min(...load.map(Number)).toFixed(1)}–${Math.max(...load.map(Number)).toFixed(1)}`;
    return [
      { suite: 'scale', case: 'spans ingested', value: spans, unit: 'spans', note },
      { suite: 'scale', case: 'spans per simulated hour', value: perHour, unit: 'spans/h' },
      { suite: 'scale', case: 'client spans ingested', value: Number(row.client_spans), unit: 'spans' },
      {
        suite: 'scale',
        case: 'wall time (set-up, replay, drain)',
        value: wall,
        unit: 's',
        note: `of which the replay itself ${o.simulation.realSeconds.toFixed(0)} s (set-up included, waiting for other simulations on the machine not)`,
      },
      {
        suite: 'scale',
        case: 'generated spans per real second of replay',
        value: crowd ? (crowd.clientSpans + crowd.serverSpans) / o.simulation.realSeconds : Number.NaN,
        unit: 'spans/s',
      },
      {
        suite: 'scale',
        case: 'receiver caught up after the clock stopped',
        value: crowd?.drainSeconds ?? Number.NaN,
        unit: 's',
        note: crowd
          ? `${crowd.posts} POSTs, ${crowd.failedPosts} failed, most queued ${crowd.maxQueued}; the simulated clock waited ${crowd.clockWaitedSeconds.toFixed(1)} s for the receiver`
          : '',
      },
      {
        suite: 'scale',
        case: 'culprit ranked first, minutes after onset',
        value: o.minutesToCulprit ?? Number.NaN,
        unit: 'sim min',
        note: o.diagnosis.culprits[0]
          ? Object.entries(o.diagnosis.culprits[0].where)
              .map(([k, v]) => `${k}=${v}`)
              .join(' AND ')
          : 'none',
      },
      { suite: 'scale', case: 'diagnose on that data', value: o.diagnosis.elapsedMs / 1000, unit: 's' },
      {
        suite: 'scale',
        case: 'per-minute cube rows (mp_sli_1m, every dimension), all layers',
        value: cube.reduce((n, /** @type {any} */ c) => n + Number(c.cube_rows), 0),
        unit: 'rows',
        baseline: cube.reduce((n, /** @type {any} */ c) => n + Number(c.spans), 0),
        note: "baseline: stored spans of the cube's layers; ratio = cube rows per span (the issue's target: ≤ 0.1)",
      },
      ...cube.map((/** @type {any} */ c) => ({
        suite: 'scale',
        case: `${c.Layer} layer: per-minute cube rows (mp_sli_1m, every dimension)`,
        value: Number(c.cube_rows),
        unit: 'rows',
        baseline: Number(c.spans),
        note: `baseline: the layer's stored spans; ratio = cube rows per span (${((Number(c.spans) * 60) / scenario.duration_minutes / 60).toFixed(0)} spans per minute)`,
      })),
    ];
  } finally {
    clearInterval(sampler);
    await emb.close();
    rmSync(work, { recursive: true, force: true });
  }
}
