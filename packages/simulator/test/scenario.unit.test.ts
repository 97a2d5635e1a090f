import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  loadScenario,
  matchesWhere,
  parseScenario,
  pick,
  rng,
  scenarioPath,
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
      if (s.faults.length > 0) expect(s.expect!.culprit, f).toBeDefined();
    }
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
