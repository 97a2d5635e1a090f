// The two collector tiers with real processes on loopback: 1 front (config.yaml + tiers/front.yaml, static
// resolver) → 3 samplers (config.yaml + tiers/sampler.yaml), the exporters swapped for devkit's OTLP sink.
//   - every span of every trace reaches exactly one sampler; the noise filter runs on the front;
//   - sampling decisions are whole-trace, and the kept spans equal a single collector's on the same traffic.
// Durability (kill -9) and scaling are in tiers-durability.test.ts.
import { readFileSync } from 'node:fs';
import { type CapturedSpan, type OtlpCapture, startOtlpCapture } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ensureCollector,
  freePort,
  geoTestDb,
  removeTempFiles,
  shippedConfig,
  sinkOverlay,
  tempFile,
  validateConfig,
} from '../src/collector.js';
import {
  type Front,
  frontConfig,
  frontStaticConfig,
  makeFront,
  makeSampler,
  makeTraffic,
  type Proc,
  removeDirs,
  SAMPLER_ATTR,
  type Sampler,
  samplerConfig,
  send,
  startProc,
} from './tiers-helpers.js';

const DECISION = { MP_OTEL_TAIL_DECISION_WAIT: '1s' };
const procs: Proc[] = [];
const dirs: string[] = [];

async function tiers(percent: number, sink: OtlpCapture) {
  const env = { ...DECISION, MP_OTEL_TAIL_SAMPLING_PERCENT: String(percent) };
  const samplers: Sampler[] = [];
  for (const id of ['s1', 's2', 's3']) samplers.push(await makeSampler(id, sink.url, env));
  for (const s of samplers) procs.push(await s.start());
  const front: Front = await makeFront(sink.url, env, { static: samplers.map((s) => s.endpoint) });
  procs.push(await front.start());
  dirs.push(front.queueDir, ...samplers.map((s) => s.queueDir));
  return { front, samplers, all: [front.proc as Proc, ...samplers.map((s) => s.proc as Proc)] };
}

/** Waits until every trace got its decision on some sampler and nothing moved for a while afterwards. */
async function settle(sink: OtlpCapture, samplerProcs: Proc[], traces: number, queues: Proc[]) {
  const deadline = Date.now() + 120_000;
  let last = -1;
  let stable = 0;
  for (;;) {
    let decided = 0;
    for (const p of samplerProcs)
      decided += await p.metric('otelcol_processor_tail_sampling_global_count_traces_sampled');
    let queued = 0;
    for (const p of queues) queued += await p.metric('otelcol_exporter_queue_size');
    const n = sink.spanCount();
    stable = decided >= traces && queued === 0 && sink.inFlight === 0 && n === last ? stable + 1 : 0;
    last = n;
    if (stable >= 8) return;
    if (Date.now() > deadline)
      throw new Error(`not settled: decided ${decided}/${traces}, queued ${queued}, sink ${n}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const comparable = (s: CapturedSpan) => {
  const { [SAMPLER_ATTR]: _sampler, ...resource } = s.resource;
  return JSON.stringify({ name: s.name, kind: s.kind, status: s.status, attributes: s.attributes, resource });
};

beforeAll(() => {
  ensureCollector();
}, 600_000);
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  removeTempFiles();
  removeDirs(dirs);
});

describe('tier configs (overlays on collector/config.yaml)', () => {
  const base = parse(readFileSync(shippedConfig, 'utf8'));
  const front = parse(readFileSync(frontConfig, 'utf8'));
  const sampler = parse(readFileSync(samplerConfig, 'utf8'));
  const env = { MP_OTEL_GEOIP_DB: geoTestDb, MP_OTEL_QUEUE_DIR: '/tmp/mp-otel-validate' };

  it('the collector accepts front (DNS), front (static) and sampler', () => {
    for (const configs of [
      [shippedConfig, frontConfig],
      [shippedConfig, frontConfig, frontStaticConfig],
      [shippedConfig, samplerConfig],
    ]) {
      const r = validateConfig(configs, { ...env, MP_OTEL_SAMPLERS: '[127.0.0.1:4317]' });
      expect(r.output, configs.join(' ')).not.toMatch(/Error/);
      expect(r.code).toBe(0);
    }
  });

  it('keeps config.yaml’s pipeline: the front runs its processors up to tail sampling, the sampler the rest', () => {
    const traces: string[] = base.service.pipelines.traces.processors;
    const cut = traces.indexOf('tail_sampling');
    expect(cut).toBeGreaterThan(0);
    expect(front.service.pipelines.traces.processors).toEqual(traces.slice(0, cut));
    expect(sampler.service.pipelines.traces.processors).toEqual([
      'memory_limiter',
      ...traces.slice(cut).filter((p) => p !== 'batch'),
    ]);
    for (const sig of ['logs', 'metrics'])
      expect(front.service.pipelines[sig].processors, sig).toEqual(
        base.service.pipelines[sig].processors.filter((p: string) => p !== 'batch'),
      );
    // an extension config.yaml enables (auth, health) must stay enabled in the tiers (lists replace, not merge)
    for (const t of [front, sampler])
      expect(t.service.extensions).toEqual(expect.arrayContaining(base.service.extensions));
  });

  it('batches in the exporters with disk queues, never with the batch processor', () => {
    for (const [name, t] of [
      ['front', front],
      ['sampler', sampler],
    ] as const) {
      for (const p of Object.values<{ processors: string[]; exporters: string[] }>(t.service.pipelines)) {
        expect(p.processors, name).not.toContain('batch');
        for (const e of p.exporters) {
          expect(t.exporters[e]?.sending_queue?.storage, `${name} ${e}`).toBe('file_storage/queue');
          expect(t.exporters[e]?.sending_queue?.batch?.sizer, `${name} ${e}`).toBe('items');
        }
      }
    }
    expect(front.exporters.loadbalancing.routing_key).toBe('traceID');
    expect(front.exporters.loadbalancing.protocol.otlp.sending_queue.enabled).toBe(false);
  });
});

describe('1 front → 3 samplers (static resolver)', () => {
  let sink: OtlpCapture;
  beforeAll(async () => {
    sink = await startOtlpCapture();
  });
  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await sink.close();
  });

  it('routes every span of every trace to exactly one sampler; the front drops the noise', async () => {
    const { front, all } = await tiers(100, sink);
    const traffic = makeTraffic({ traces: 300, spansPerTrace: 4, tracesPerRequest: 10 });
    const acked = await Promise.all(traffic.requests.map((r) => send(front.url, r.body)));
    expect(acked.every(Boolean)).toBe(true);
    const sent = traffic.requests.flatMap((r) => r.spans);
    const kept = sent.filter((s) => !s.noise);
    await settle(sink, all.slice(1), traffic.traces.length, all);
    const got = sink.spans();
    // exactly once each (sampling keeps 100 %), none of the noise
    expect(got.length).toBe(kept.length);
    expect(new Set(got.map((s) => s.spanId))).toEqual(new Set(kept.map((s) => s.spanId)));
    // per trace: one sampler
    const samplerOf = new Map<string, Set<string>>();
    for (const s of got) {
      const set = samplerOf.get(s.traceId) ?? new Set();
      set.add(String(s.resource[SAMPLER_ATTR]));
      samplerOf.set(s.traceId, set);
    }
    expect(samplerOf.size).toBe(traffic.traces.length);
    const split = [...samplerOf].filter(([, set]) => set.size !== 1);
    expect(split).toEqual([]);
    // every sampler took a share (consistent hashing over 3 backends)
    const share = new Map<string, number>();
    for (const [, set] of samplerOf) for (const id of set) share.set(id, (share.get(id) ?? 0) + 1);
    expect([...share.keys()].sort()).toEqual(['s1', 's2', 's3']);
    for (const [, n] of share) expect(n).toBeGreaterThan(traffic.traces.length / 10);
    console.log(`routing: traces per sampler ${JSON.stringify(Object.fromEntries(share))}`);
  }, 240_000);
});

describe('sampling decisions: tiers vs one collector on the same traffic', () => {
  const traffic = makeTraffic({ traces: 400, spansPerTrace: 4, tracesPerRequest: 10 });
  const results: Record<'tiers' | 'single', CapturedSpan[]> = { tiers: [], single: [] };

  it('tiers (30 %): decisions are whole-trace', async () => {
    const sink = await startOtlpCapture();
    try {
      const { front, all } = await tiers(30, sink);
      const acked = await Promise.all(traffic.requests.map((r) => send(front.url, r.body)));
      expect(acked.every(Boolean)).toBe(true);
      await settle(sink, all.slice(1), traffic.traces.length, all);
      results.tiers = sink.spans();
    } finally {
      await Promise.all(procs.splice(0).map((p) => p.stop()));
      await sink.close();
    }
    const sent = traffic.requests.flatMap((r) => r.spans).filter((s) => !s.noise);
    const keptIds = new Set(results.tiers.map((s) => s.spanId));
    expect(keptIds.size).toBe(results.tiers.length); // no duplicates
    const byTrace = new Map<string, { sent: number; kept: number }>();
    for (const s of sent) {
      const e = byTrace.get(s.traceId) ?? { sent: 0, kept: 0 };
      e.sent++;
      if (keptIds.has(s.spanId)) e.kept++;
      byTrace.set(s.traceId, e);
    }
    const partial = [...byTrace].filter(([, e]) => e.kept !== 0 && e.kept !== e.sent);
    expect(partial).toEqual([]);
    const keptTraces = [...byTrace.values()].filter((e) => e.kept > 0).length;
    // errors, slow and ~30 % of the rest: well above 30 %, well below all
    expect(keptTraces).toBeGreaterThan(traffic.traces.length * 0.3);
    expect(keptTraces).toBeLessThan(traffic.traces.length);
    console.log(`tiers kept ${keptTraces}/${traffic.traces.length} traces (${results.tiers.length} spans)`);
  }, 240_000);

  it('one collector (config.yaml) on the same traffic keeps exactly the same spans, attribute for attribute', async () => {
    const sink = await startOtlpCapture();
    try {
      const ports = { health: await freePort(), metrics: await freePort() };
      const http = await freePort();
      const overlay = tempFile(
        'single-telemetry.yaml',
        `service:
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${ports.metrics}
`,
      );
      const single = await startProc(
        'single',
        [shippedConfig, tempFile('sink.yaml', sinkOverlay(sink.url)), overlay],
        {
          ...DECISION,
          MP_OTEL_TAIL_SAMPLING_PERCENT: '30',
          MP_OTEL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
          MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
          MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
          MP_OTEL_GEOIP_DB: geoTestDb,
        },
        ports,
      );
      procs.push(single);
      const acked = await Promise.all(traffic.requests.map((r) => send(`http://127.0.0.1:${http}`, r.body)));
      expect(acked.every(Boolean)).toBe(true);
      await settle(sink, [single], traffic.traces.length, [single]);
      results.single = sink.spans();
    } finally {
      await Promise.all(procs.splice(0).map((p) => p.stop()));
      await sink.close();
    }
    expect(results.tiers.length).toBeGreaterThan(0);
    const index = (spans: CapturedSpan[]) => new Map(spans.map((s) => [s.spanId, comparable(s)]));
    const t = index(results.tiers);
    const s = index(results.single);
    expect([...t.keys()].sort()).toEqual([...s.keys()].sort());
    for (const [id, v] of s) expect(t.get(id), id).toBe(v);
  }, 240_000);
});
