// The latency model: how long a simulated request takes, on the simulated clock. The real HTTP still
// happens (client SDK on the wx shim → balancer → image-service node → store), but how long it took on a
// shared 2-core machine says nothing about the scenario, so the durations telemetry reports come from
// here: a round trip by network type, transfer time by size and network type, server time by route, each
// with log-normal jitter, plus the faults the scenario injects (a slow node's delay, a network timeout).
// Draws come from the scenario's seed, so a machine under load gets the same distribution as an idle one.
import { type Route, rng, type Scenario } from './scenario.js';

export interface LatencySpec {
  /** median round trip between phone and servers by network.type (ms) */
  rtt_ms: Record<string, number>;
  /** transfer rate by network.type (KB per second), applied to request and response bodies */
  kb_per_s: Record<string, number>;
  /** median server time by route (ms); other paths (scanners' 404s) take `other_ms` */
  server_ms: Partial<Record<Route, number>> & { other_ms?: number };
  /** σ of the log-normal jitter applied to each part (0: every request takes the median) */
  jitter: number;
}

export const DEFAULT_LATENCY: LatencySpec = {
  rtt_ms: { wifi: 40, '5g': 30, '4g': 70, '3g': 180, '2g': 600, unknown: 80 },
  kb_per_s: { wifi: 4000, '5g': 6000, '4g': 1500, '3g': 300, '2g': 30, unknown: 1000 },
  server_ms: { 'upload.image': 60, 'download.image': 15, other_ms: 3 },
  jitter: 0.3,
};

/** The scenario's model: its own `latency` over the defaults, field by field. */
export function latencySpec(s: Pick<Scenario, 'latency'>): LatencySpec {
  const l = s.latency ?? {};
  return {
    rtt_ms: { ...DEFAULT_LATENCY.rtt_ms, ...l.rtt_ms },
    kb_per_s: { ...DEFAULT_LATENCY.kb_per_s, ...l.kb_per_s },
    server_ms: { ...DEFAULT_LATENCY.server_ms, ...l.server_ms },
    jitter: l.jitter ?? DEFAULT_LATENCY.jitter,
  };
}

export interface LatencyModel {
  readonly spec: LatencySpec;
  /** phone → server: half a round trip plus the request body's transfer */
  up(networkType: string, kbOut: number): number;
  /** server → phone: half a round trip plus the response body's transfer */
  down(networkType: string, kbIn: number): number;
  /** time inside the server for a route (undefined: a path outside the catalog's routes) */
  server(route: Route | undefined): number;
}

export function latencyModel(s: Pick<Scenario, 'latency' | 'seed'>): LatencyModel {
  const spec = latencySpec(s);
  // its own stream, so the fleet drawn from `seed` is the same with or without the model
  const random = rng((s.seed ^ 0x1a7e9c3) >>> 0);
  let spare: number | undefined;
  const normal = () => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const jitter = () => Math.exp(spec.jitter * normal());
  const rtt = (net: string) => spec.rtt_ms[net] ?? spec.rtt_ms.unknown ?? 80;
  const rate = (net: string) => spec.kb_per_s[net] ?? spec.kb_per_s.unknown ?? 1000;
  const leg = (net: string, kb: number) => (rtt(net) / 2 + (1000 * kb) / rate(net)) * jitter();
  return {
    spec,
    up: leg,
    down: leg,
    server: (route) => (route ? (spec.server_ms[route] ?? 15) : (spec.server_ms.other_ms ?? 3)) * jitter(),
  };
}
