import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  crowdUser,
  geoRanges,
  latencyModel,
  latencySpec,
  loadScenario,
  matchesWhere,
  parseScenario,
  pick,
  rng,
  scaleOf,
  scenarioPath,
  sdkClientSpan,
  TraceModels,
  TraceShifts,
  warpOtlp,
} from '../src/index.js';

const scenarios = dirname(scenarioPath('seed-incident'));

describe('scenario files', () => {
  test('every shipped scenario is valid and says what it injected', () => {
    const files = readdirSync(scenarios).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const s = loadScenario(join(scenarios, f));
      expect(s.expect, f).toBeDefined();
      if (s.faults.length > 0) expect(s.expect!.culprit ?? s.expect!.set, f).toBeDefined();
    }
  });

  test('the seed-scale scenario is valid: a million users, a few percent of them hit', () => {
    const s = loadScenario(scenarioPath('scale/seed-incident-scale'));
    expect(scaleOf(s)).toEqual({ users: 1_000_000, requests_per_user_hour: 0.6, batch_spans: 512 });
    // ≥ 1 000 000 spans a simulated hour: a client span and a server span per request
    expect(2 * s.scale!.users * s.scale!.requests_per_user_hour!).toBeGreaterThanOrEqual(1_000_000);
    const ios = s.mix['os.name'].ios! / (s.mix['os.name'].ios! + s.mix['os.name'].android!);
    const perOs = (s.mix['mp.base_library.version'] as { per_os: Record<string, Record<string, number>> })
      .per_os.ios!;
    const share = ios * (perOs['3.5.0']! / (perOs['3.5.0']! + perOs['3.4.10']!));
    expect(share).toBeGreaterThan(0.01);
    expect(share).toBeLessThan(0.05);
    expect(() =>
      parseScenario(
        'name: x\nduration_minutes: 10\nmix: { os.name: { ios: 1 } }\nactions: { upload.image: { weight: 1 } }\nscale: { users: 0 }',
      ),
    ).toThrow(/\/scale\/users must be >= 1/);
  });

  test('invalid scenarios are refused with every reason', () => {
    const bad = () => parseScenario('name: x\nduration_minutes: 10\nmix: {}\nactions: {}\nbogus: 1');
    expect(bad).toThrow(/\/mix must have required property 'os.name'/);
    expect(bad).toThrow(/\/ must NOT have additional properties: 'bogus'/);
    expect(bad).toThrow(/\/actions must NOT have fewer than 1 properties/);
    expect(() =>
      parseScenario(
        'name: x\nduration_minutes: 10\nmix: { os.name: { ios: 1 } }\nactions: { upload.image: { weight: 1 } }\nfaults: [{ name: f, from_minute: 5, to_minute: 2, effect: timeout }]',
      ),
    ).toThrow(/ends before it starts/);
    expect(() =>
      parseScenario(
        'name: x\nduration_minutes: 10\nmix: { os.name: { ios: 1 } }\nactions: { upload.image: { weight: 1 } }\nfaults: [{ name: f, from_minute: 1, to_minute: 2, effect: slow_node }]',
      ),
    ).toThrow(/needs where.host.name/);
    // an expected root-cause set: elements must be dimensions diagnosis localizes, and not empty
    const base =
      'name: x\nduration_minutes: 10\nmix: { os.name: { ios: 1 } }\nactions: { upload.image: { weight: 1 } }\n';
    expect(() => parseScenario(`${base}expect: { set: [{ os.name: ios }, { http.route: /x }] }`)).toThrow(
      /expect\.set\[1\]\.http\.route is not a dimension diagnosis localizes/,
    );
    expect(() => parseScenario(`${base}expect: { set: [] }`)).toThrow(
      /\/expect\/set must NOT have fewer than 1 items/,
    );
    expect(() => parseScenario(`${base}expect: { set: [{}] }`)).toThrow(
      /\/expect\/set\/0 must NOT have fewer than 1 properties/,
    );
  });

  test('defaults are filled in', () => {
    const s = parseScenario(
      'name: x\nduration_minutes: 10\nmix: { os.name: { ios: 1 } }\nactions: { upload.image: { weight: 1 } }',
    );
    expect(s).toMatchObject({
      speed: 60,
      clients: 40,
      requests_per_second: 40,
      sample_rate: 1,
      seed: 1,
      faults: [],
      noise: [],
    });
  });
});

describe('randomness and matching', () => {
  test('the same seed gives the same draws; weights are honoured', () => {
    const a = rng(7);
    const b = rng(7);
    const draws = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(draws);
    const r = rng(1);
    const counts = { x: 0, y: 0 };
    for (let i = 0; i < 10_000; i++) counts[pick({ x: 1, y: 3 }, r) as 'x' | 'y']++;
    expect(counts.y / 10_000).toBeGreaterThan(0.72);
    expect(counts.y / 10_000).toBeLessThan(0.78);
  });
  test('where clauses', () => {
    expect(
      matchesWhere(
        { 'os.name': 'ios', carrier: ['unicom', 'mobile'] },
        { 'os.name': 'ios', carrier: 'mobile' },
      ),
    ).toBe(true);
    expect(matchesWhere({ 'os.name': 'ios' }, { 'os.name': 'android' })).toBe(false);
    expect(matchesWhere(undefined, {})).toBe(true);
  });
});

describe('the simulated clock', () => {
  const clock = { realStartMs: 1_000_000, simStartMs: 5_000_000_000, speed: 60 };
  const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
  const span = (traceId: string, startMs: number, ms: number) => ({
    traceId,
    startTimeUnixNano: ns(startMs),
    endTimeUnixNano: ns(startMs + ms),
    events: [{ timeUnixNano: ns(startMs + 1) }],
  });

  test('starts move onto the simulated timeline; durations and in-trace offsets stay real', () => {
    const shifts = new TraceShifts();
    const client = { resourceSpans: [{ scopeSpans: [{ spans: [span('t1', 1_010_000, 42)] }] }] };
    const server = { resourceSpans: [{ scopeSpans: [{ spans: [span('t1', 1_010_002, 8)] }] }] };
    warpOtlp('traces', server, clock, shifts); // the server's export arrives first
    warpOtlp('traces', client, clock, shifts);
    const c = client.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    const s = server.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    const ms = (x: string) => Number(BigInt(x) / 1_000_000n);
    // anchored by the first span seen (the server's): 10 002 ms after the start × 60
    expect(ms(s.startTimeUnixNano)).toBe(5_000_000_000 + 10_002 * 60);
    expect(ms(c.startTimeUnixNano)).toBe(ms(s.startTimeUnixNano) - 2);
    expect(ms(c.endTimeUnixNano) - ms(c.startTimeUnixNano)).toBe(42);
    expect(ms(c.events[0]!.timeUnixNano) - ms(c.startTimeUnixNano)).toBe(1);
  });

  test('logs of a trace follow it; metrics points move with the clock', () => {
    const shifts = new TraceShifts();
    warpOtlp(
      'traces',
      { resourceSpans: [{ scopeSpans: [{ spans: [span('t2', 1_020_000, 5)] }] }] },
      clock,
      shifts,
    );
    const logs = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                { traceId: 't2', timeUnixNano: ns(1_020_003), observedTimeUnixNano: ns(1_020_003) },
              ],
            },
          ],
        },
      ],
    };
    warpOtlp('logs', logs, clock, shifts);
    expect(Number(BigInt(logs.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.timeUnixNano) / 1_000_000n)).toBe(
      5_000_000_000 + 20_000 * 60 + 3,
    );
    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  histogram: {
                    dataPoints: [{ startTimeUnixNano: ns(1_000_000), timeUnixNano: ns(1_001_000) }],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    warpOtlp('metrics', metrics, clock);
    const p = metrics.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.histogram.dataPoints[0]!;
    expect(
      Number(BigInt(p.timeUnixNano) / 1_000_000n) - Number(BigInt(p.startTimeUnixNano) / 1_000_000n),
    ).toBe(60_000);
  });
});

describe('the latency model', () => {
  test('defaults, overridden field by field; no jitter → the medians exactly', () => {
    const spec = latencySpec({ latency: { rtt_ms: { wifi: 100 }, jitter: 0 } });
    expect(spec.rtt_ms.wifi).toBe(100);
    expect(spec.rtt_ms['4g']).toBe(70); // a default kept
    const m = latencyModel({
      latency: { rtt_ms: { wifi: 100 }, kb_per_s: { wifi: 1000 }, jitter: 0 },
      seed: 1,
    });
    expect(m.up('wifi', 500)).toBe(50 + 500);
    expect(m.server('download.image')).toBe(15);
    expect(m.server(undefined)).toBe(3);
    expect(m.up('a network nobody named', 0)).toBe(40); // `unknown`'s round trip
  });

  test('jitter is log-normal around the median, the same for the same seed', () => {
    const draws = (seed: number) => {
      const m = latencyModel({ latency: { jitter: 0.3 }, seed });
      return Array.from({ length: 20_000 }, () => m.server('download.image'));
    };
    const a = draws(5);
    expect(draws(5)).toEqual(a);
    expect(draws(6)).not.toEqual(a);
    const sorted = [...a].sort((x, y) => x - y);
    expect(sorted[10_000]!).toBeGreaterThan(14);
    expect(sorted[10_000]!).toBeLessThan(16);
    // p99 of exp(0.3 z) ≈ e^(0.3 × 2.326) ≈ 2.01 × the median
    expect(sorted[19_800]! / 15).toBeGreaterThan(1.85);
    expect(sorted[19_800]! / 15).toBeLessThan(2.2);
  });

  test('a modelled trace: the SERVER span takes the window, other spans and logs move with it, inside it', () => {
    const clock = { realStartMs: 1_000_000, simStartMs: 5_000_000_000, speed: 60 };
    const models = new TraceModels();
    models.set('ABC', { startMs: 5_000_600_000.5, durationMs: 1515, realAnchorMs: 1_010_000 });
    const ns = (ms: number) => String(BigInt(Math.round(ms * 1e6)));
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                // real: the node took 900 ms on a busy machine; its child 5 ms, 3 ms in
                { traceId: 'abc', kind: 2, startTimeUnixNano: ns(1_010_001), endTimeUnixNano: ns(1_010_901) },
                { traceId: 'abc', kind: 1, startTimeUnixNano: ns(1_010_004), endTimeUnixNano: ns(1_010_009) },
                // a child running past the modelled end is cut at it
                { traceId: 'abc', kind: 1, startTimeUnixNano: ns(1_011_000), endTimeUnixNano: ns(1_012_000) },
                {
                  traceId: 'other',
                  kind: 2,
                  startTimeUnixNano: ns(1_000_060),
                  endTimeUnixNano: ns(1_000_070),
                },
              ],
            },
          ],
        },
      ],
    };
    warpOtlp('traces', body, clock, new TraceShifts(), models);
    const [server, child, late, other] = body.resourceSpans[0]!.scopeSpans[0]!.spans as Array<{
      startTimeUnixNano: string;
      endTimeUnixNano: string;
    }>;
    const msOf = (x: string) => Number(BigInt(x)) / 1e6;
    expect(msOf(server!.startTimeUnixNano)).toBeCloseTo(5_000_600_000.5, 3);
    expect(msOf(server!.endTimeUnixNano) - msOf(server!.startTimeUnixNano)).toBeCloseTo(1515, 3);
    expect(msOf(child!.startTimeUnixNano) - msOf(server!.startTimeUnixNano)).toBeCloseTo(4, 3);
    expect(msOf(child!.endTimeUnixNano) - msOf(child!.startTimeUnixNano)).toBeCloseTo(5, 3);
    expect(msOf(late!.endTimeUnixNano)).toBeCloseTo(msOf(server!.endTimeUnixNano), 3);
    expect(msOf(late!.startTimeUnixNano)).toBeCloseTo(msOf(server!.startTimeUnixNano) + 1000, 3);
    // a trace nobody modelled moves with the clock and keeps its real duration
    expect(msOf(other!.startTimeUnixNano)).toBeCloseTo(5_000_000_000 + 60 * 60, 3);
    expect(msOf(other!.endTimeUnixNano) - msOf(other!.startTimeUnixNano)).toBeCloseTo(10, 3);
    const logs = {
      resourceLogs: [
        {
          scopeLogs: [
            { logRecords: [{ traceId: 'abc', timeUnixNano: ns(1_013_000), observedTimeUnixNano: '' }] },
          ],
        },
      ],
    };
    warpOtlp('logs', logs, clock, new TraceShifts(), models);
    expect(msOf(logs.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.timeUnixNano)).toBeCloseTo(
      5_000_600_000.5 + 1515,
      3,
    );
  });
});

describe('the generated crowd', () => {
  test('a user index is always the same phone; the fleet follows the mix', () => {
    const s = loadScenario(scenarioPath('scale/seed-incident-scale'));
    const byGeo = geoRanges([
      { ip_start: 16_777_216, ip_end: 16_777_471, carrier: 'unicom', province: '北京' },
    ]);
    expect(crowdUser(s, 123_456, byGeo)).toEqual(crowdUser(s, 123_456, byGeo));
    expect(crowdUser(s, 1, byGeo).deviceId).not.toBe(crowdUser(s, 2, byGeo).deviceId);
    let hit = 0;
    let addressed = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = crowdUser(s, i, byGeo);
      if (u['os.name'] === 'ios' && u['mp.base_library.version'] === '3.5.0') hit++;
      if (u.ip) {
        addressed++;
        expect([u.carrier, u.province]).toEqual(['unicom', '北京']); // an address of its own carrier/province
      }
    }
    expect(hit / n).toBeGreaterThan(0.025);
    expect(hit / n).toBeLessThan(0.035);
    expect(addressed).toBeGreaterThan(0);
  });

  test('failed requests are written as the SDK writes them', () => {
    const base = {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      startMs: 1000,
      sampled: false,
      weight: 1,
    };
    const t = sdkClientSpan({
      ...base,
      route: 'download.image',
      url: 'https://img.example.com/images/x',
      outcome: 'timeout',
      endMs: 16_000,
      networkType: '4g',
    });
    const attrs = Object.fromEntries(t.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]));
    expect(attrs).toMatchObject({
      'error.type': 'timeout',
      'server.port': 443,
      'network.connection.type': 'cell',
      'network.connection.subtype': '4g',
      'mp.sampling.weight': 1,
    });
    expect(attrs['http.response.status_code']).toBeUndefined();
    expect(t.status).toEqual({ code: 2, message: 'downloadFile:fail timeout' });
    expect(t.flags).toBe(256); // unsampled, exported because it failed
    expect(BigInt(t.endTimeUnixNano) - BigInt(t.startTimeUnixNano)).toBe(15_000_000_000n);
  });
});
