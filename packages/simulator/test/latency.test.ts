// The latency telemetry reports is the scenario's model, not the machine's: a short simulation with the
// jitter off (every request takes the model's median) through the real SDK, the real image-service nodes
// and a capture receiver. Every client span and every backend SERVER span must last exactly what the
// model says — whatever the real requests took on this (shared, busy) machine — including a slow node's
// delay and a network timeout's 15 s, and every server span must sit inside its client span.
import { type CapturedSpan, startOtlpCapture } from '@mp-otel/devkit';
import { describe, expect, test } from 'vitest';
import { latencySpec, parseScenario, simulate } from '../src/index.js';

const scenario = parseScenario(`
name: latency-model
duration_minutes: 4
speed: 60
clients: 8
requests_per_second: 25
seed: 7
mix:
  os.name: { ios: 50, android: 50 }
  network.type: { wifi: 50, 4g: 50 }
actions:
  upload.image: { weight: 40, size_kb: [50, 50] }
  download.image: { weight: 60 }
backend: { nodes: 2 }
latency: { jitter: 0, server_ms: { download.image: 15, upload.image: 60 } }
faults:
  - { name: node-2 slow, from_minute: 1, to_minute: 3, where: { host.name: node-2 }, effect: slow_node, delay_ms: 1500 }
  - { name: ios download timeouts, from_minute: 2, to_minute: 3, where: { os.name: ios }, routes: [download.image], effect: timeout }
`);

const ms = (s: CapturedSpan) => Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
const startMs = (s: CapturedSpan) => Number(BigInt(s.startTimeUnixNano) / 1_000_000n);

describe('latency on the simulated clock', () => {
  test('client and server spans last what the model says, not what the machine took', {
    timeout: 240_000,
  }, async () => {
    const capture = await startOtlpCapture();
    try {
      const sim = await simulate(scenario, { otlpUrl: capture.url });
      const spec = latencySpec(scenario);
      const leg = (net: string, kb: number) => spec.rtt_ms[net]! / 2 + (1000 * kb) / spec.kb_per_s[net]!;
      // the model's request/response sizes: uploads send the 50 KB photo and get a small JSON back;
      // downloads send nothing and get a seeded 30 000-byte image
      const clientMs = (route: string, net: string, serverMs: number) =>
        route === 'upload.image'
          ? leg(net, 50) + serverMs + leg(net, 0.1)
          : leg(net, 0.5) + serverMs + leg(net, 30_000 / 1024);
      const slow = sim.faults.find((f) => f.effect === 'slow_node')!;
      const timeout = sim.faults.find((f) => f.effect === 'timeout')!;

      const spans = capture.spans();
      const clients = spans.filter((s) => s.kind === 3 && s.attributes['mp.route_name']);
      const servers = spans.filter((s) => s.kind === 2 && s.resource['service.name'] === 'image-service');
      expect(clients.length).toBeGreaterThan(40);
      // every request the fleet made has its client span: the SDK dropped nothing (its clock jumps)
      const made = Object.values(sim.outcomes).reduce(
        (n, byOutcome) => n + Object.values(byOutcome).reduce((a, b) => a + b, 0),
        0,
      );
      expect(clients.length).toBe(made);
      expect(capture.logs().filter((l) => l.eventName === 'mp.telemetry.dropped')).toEqual([]);
      expect(servers.length).toBeGreaterThan(40);
      const serverOf = new Map(servers.map((s) => [s.traceId, s]));

      let answered = 0;
      let timedOut = 0;
      let slowSeen = 0;
      for (const c of clients) {
        const route = String(c.attributes['mp.route_name']);
        // the SDK says wifi, or cell with the generation as the subtype
        const net = String(
          c.attributes['network.connection.subtype'] ?? c.attributes['network.connection.type'],
        );
        if (c.attributes['error.type'] === 'timeout') {
          timedOut++;
          expect(ms(c)).toBeCloseTo(15_000, 0);
          expect(startMs(c)).toBeGreaterThanOrEqual(timeout.fromMs);
          expect(startMs(c)).toBeLessThan(timeout.toMs);
          expect(serverOf.has(c.traceId), 'a timed-out request never reached a server').toBe(false);
          continue;
        }
        const server = serverOf.get(c.traceId);
        expect(server, `${route}: the server span of trace ${c.traceId}`).toBeDefined();
        answered++;
        const host = String(server!.resource['host.name']);
        const inWindow = startMs(server!) >= slow.fromMs && startMs(server!) < slow.toMs;
        const serverMs = (route === 'upload.image' ? 60 : 15) + (host === 'node-2' && inWindow ? 1500 : 0);
        if (serverMs > 1000) slowSeen++;
        expect(ms(server!), `${route} on ${host}`).toBeCloseTo(serverMs, 3);
        // the SDK keeps milliseconds: its span is the model's duration to within a millisecond
        expect(Math.abs(ms(c) - clientMs(route, net, serverMs)), `${route} over ${net}`).toBeLessThan(1.01);
        expect(BigInt(server!.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(c.startTimeUnixNano));
        expect(BigInt(server!.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(c.endTimeUnixNano) + 1_000_000n);
      }
      expect(answered).toBeGreaterThan(40);
      expect(timedOut).toBeGreaterThan(0);
      expect(slowSeen).toBeGreaterThan(0);
    } finally {
      await capture.close();
    }
  });

  test('a late tick (the process had no CPU) makes the simulated clock wait, not a burst of requests', {
    timeout: 240_000,
  }, async () => {
    const capture = await startOtlpCapture();
    try {
      const blockMs = 1500;
      const sim = await simulate(
        { ...scenario, faults: [], duration_minutes: 3 },
        {
          otlpUrl: capture.url,
          // the event loop is held for 1.5 s at minute 1, as a starved process would be: at ×60 that is
          // 90 simulated seconds (~37 requests at 25 a minute) that must not all start at one instant
          onMinute: (_at, minute) => {
            if (minute !== 1) return;
            const until = Date.now() + blockMs;
            while (Date.now() < until);
          },
        },
      );
      expect(sim.clockWaitedSeconds).toBeGreaterThanOrEqual((blockMs - 150) / 1000);
      const clients = capture.spans().filter((s) => s.kind === 3 && s.attributes['mp.route_name']);
      expect(clients.length).toBeGreaterThan(40);
      const atOnce = new Map<number, number>();
      for (const c of clients) atOnce.set(startMs(c), (atOnce.get(startMs(c)) ?? 0) + 1);
      // at most a 100 ms tick's worth (6 simulated seconds, ~3 requests) shares one instant (seen here: 1;
      // 8 when a late tick's whole debt was sent at once)
      expect(Math.max(...atOnce.values())).toBeLessThanOrEqual(3);
    } finally {
      await capture.close();
    }
  });
});
