// Helpers of the collector-tier tests and bench: real mp-otel collector processes (the distribution built
// from collector/builder-config.yaml) run with collector/config.yaml + collector/tiers/*.yaml on loopback,
// plus a test overlay per process that only swaps the exporters for devkit's OTLP capture sink, tags each
// sampler's output with its name, and serves the collector's own metrics (queue sizes, traces in memory).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  collectorBinary,
  collectorDir,
  FEATURE_GATES,
  freePort,
  geoTestDb,
  shippedConfig,
  tempFile,
} from '../src/collector.js';

export const frontConfig = join(collectorDir, 'tiers', 'front.yaml');
export const frontStaticConfig = join(collectorDir, 'tiers', 'front-static.yaml');
export const samplerConfig = join(collectorDir, 'tiers', 'sampler.yaml');
export const SAMPLER_ATTR = 'mp.test.sampler';

const yamlOf = (f: string) => parse(readFileSync(f, 'utf8'));

export interface Proc {
  name: string;
  pid: number;
  healthPort: number;
  metricsPort: number;
  logs: () => string;
  exited: () => boolean;
  /** kill -9 */
  kill9: () => Promise<void>;
  /** SIGTERM, wait for exit */
  stop: () => Promise<void>;
  /** SIGHUP: the collector reloads its configuration files */
  hup: () => void;
  /** sum of a metric of the collector's own telemetry over its label sets (optionally filtered) */
  metric: (name: string, labelMatch?: RegExp) => Promise<number>;
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/`)).ok;
  } catch {
    return false;
  }
}

/** Starts a collector process and waits for its health check; `hostsFile` runs it in its own mount
 *  namespace with that file as /etc/hosts (the DNS resolver's name → addresses, for this process only). */
export async function startProc(
  name: string,
  configs: string[],
  env: Record<string, string>,
  ports: { health: number; metrics: number },
  hostsFile?: string,
): Promise<Proc> {
  const args = [...configs.map((c) => `--config=${c}`), FEATURE_GATES];
  const child: ChildProcess = hostsFile
    ? spawn(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          `mount --bind "${hostsFile}" /etc/hosts && exec "$0" "$@"`,
          collectorBinary,
          ...args,
        ],
        {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
    : spawn(collectorBinary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.on('exit', () => {
      exited = true;
      r();
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await healthy(ports.health))) {
    if (exited) throw new Error(`${name} exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not healthy after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const metricsText = async () => {
    try {
      return await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    } catch {
      return '';
    }
  };
  return {
    name,
    pid: child.pid as number,
    healthPort: ports.health,
    metricsPort: ports.metrics,
    logs: () => output,
    exited: () => exited,
    kill9: async () => {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(t);
    },
    hup: () => child.kill('SIGHUP'),
    metric: async (metric, labelMatch) => {
      let sum = 0;
      for (const line of (await metricsText()).split('\n')) {
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? ([-\d.e+]+|NaN)$/.exec(line);
        if (!m || (m[1] !== metric && m[1] !== `${metric}_total`)) continue;
        if (labelMatch && !labelMatch.test(m[2] ?? '')) continue;
        sum += Number(m[3]);
      }
      return sum;
    },
  };
}

const telemetry = (metricsPort: number) => ({
  logs: { level: 'warn' },
  metrics: {
    level: 'normal',
    readers: [{ pull: { exporter: { prometheus: { host: '127.0.0.1', port: metricsPort } } } }],
  },
});

const sinkExporter = (sinkUrl: string, queue: Record<string, unknown>) => ({
  endpoint: sinkUrl,
  encoding: 'json',
  compression: 'none',
  timeout: '5s',
  retry_on_failure: { enabled: true, initial_interval: '100ms', max_interval: '1s', max_elapsed_time: '0s' },
  sending_queue: queue,
});

export interface Sampler {
  id: string;
  /** host:port the front sends to */
  endpoint: string;
  queueDir: string;
  proc?: Proc;
  start: () => Promise<Proc>;
}

/**
 * A sampling-tier collector (config.yaml + tiers/sampler.yaml) whose ClickHouse exporter is swapped for the
 * sink, with the same sending queue (on disk, batching) as sampler.yaml's, and its output tagged with its id.
 */
export async function makeSampler(
  id: string,
  sinkUrl: string,
  env: Record<string, string>,
  host = '127.0.0.1',
  port?: number,
): Promise<Sampler> {
  const tier = yamlOf(samplerConfig);
  const p = port ?? (await freePort());
  const ports = { health: await freePort(), metrics: await freePort() };
  const queueDir = mkdtempSync(join(tmpdir(), `mp-otel-queue-${id}-`));
  const overlay = tempFile(
    `${id}.yaml`,
    stringify({
      processors: {
        'resource/test-sampler': { attributes: [{ key: SAMPLER_ATTR, value: id, action: 'upsert' }] },
      },
      exporters: { 'otlphttp/sink': sinkExporter(sinkUrl, tier.exporters.clickhouse.sending_queue) },
      service: {
        telemetry: telemetry(ports.metrics),
        pipelines: {
          traces: {
            processors: [...tier.service.pipelines.traces.processors, 'resource/test-sampler'],
            exporters: ['otlphttp/sink'],
          },
          logs: { exporters: ['otlphttp/sink'] },
          metrics: { exporters: ['otlphttp/sink'] },
        },
      },
    }),
  );
  const s: Sampler = {
    id,
    endpoint: `${host}:${p}`,
    queueDir,
    start: async () => {
      s.proc = await startProc(
        id,
        [shippedConfig, samplerConfig, overlay],
        {
          MP_OTEL_TIER_GRPC_ENDPOINT: `${host}:${p}`,
          MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
          MP_OTEL_QUEUE_DIR: queueDir,
          ...env,
        },
        ports,
      );
      return s.proc;
    },
  };
  return s;
}

export interface Front {
  url: string;
  queueDir: string;
  proc?: Proc;
  start: () => Promise<Proc>;
  /** rewrites the static backend list (effective after proc.hup()) */
  setStatic: (endpoints: string[]) => void;
}

/** A front-tier collector (config.yaml + tiers/front.yaml [+ front-static.yaml]); logs/metrics to the sink. */
export async function makeFront(
  sinkUrl: string,
  env: Record<string, string>,
  resolver: { static: string[] } | { dns: { hostname: string; port: number; hostsFile: string } },
): Promise<Front> {
  const tier = yamlOf(frontConfig);
  const ports = {
    http: await freePort(),
    grpc: await freePort(),
    health: await freePort(),
    metrics: await freePort(),
  };
  const queueDir = mkdtempSync(join(tmpdir(), 'mp-otel-queue-front-'));
  const overlay = tempFile(
    'front.yaml',
    stringify({
      exporters: { 'otlphttp/sink': sinkExporter(sinkUrl, tier.exporters.clickhouse.sending_queue) },
      service: {
        telemetry: telemetry(ports.metrics),
        pipelines: { logs: { exporters: ['otlphttp/sink'] }, metrics: { exporters: ['otlphttp/sink'] } },
      },
    }),
  );
  let staticList = 'static' in resolver ? resolver.static : [];
  const configs =
    'static' in resolver
      ? [shippedConfig, frontConfig, frontStaticConfig, overlay]
      : [shippedConfig, frontConfig, overlay];
  // the static list lives in a config file of its own so that a SIGHUP reload re-reads it
  const listFile = tempFile('front-samplers.yaml', '');
  const writeList = () => {
    writeFileSync(
      listFile,
      stringify({ exporters: { loadbalancing: { resolver: { static: { hostnames: staticList } } } } }),
    );
  };
  if ('static' in resolver) {
    writeList();
    configs.push(listFile);
  }
  const f: Front = {
    url: `http://127.0.0.1:${ports.http}`,
    queueDir,
    setStatic: (endpoints) => {
      staticList = endpoints;
      writeList();
    },
    start: async () => {
      f.proc = await startProc(
        'front',
        configs,
        {
          MP_OTEL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
          MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
          MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
          MP_OTEL_GEOIP_DB: geoTestDb,
          MP_OTEL_QUEUE_DIR: queueDir,
          MP_OTEL_SAMPLERS: '[]',
          ...('dns' in resolver
            ? {
                MP_OTEL_SAMPLER_HOSTNAME: resolver.dns.hostname,
                MP_OTEL_SAMPLER_PORT: String(resolver.dns.port),
                MP_OTEL_SAMPLER_DNS_INTERVAL: '500ms',
              }
            : {}),
          ...env,
        },
        ports,
        'dns' in resolver ? resolver.dns.hostsFile : undefined,
      );
      return f.proc;
    },
  };
  return f;
}

export function removeDirs(dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------ traffic

export interface SentSpan {
  traceId: string;
  spanId: string;
  /** the span is noise (health check): the front drops it */
  noise: boolean;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/**
 * Traffic of `traces` traces, `spansPerTrace` spans each, in requests of `tracesPerRequest` traces where each
 * trace's spans are split over two consecutive requests (a trace reaches the front in pieces). Some traces
 * have an error span, some a slow one, some carry a noise span (a health check the front drops).
 */
export function makeTraffic(o: {
  traces: number;
  spansPerTrace: number;
  tracesPerRequest: number;
  startMs?: number;
}) {
  const start = BigInt(o.startMs ?? Date.now()) * 1_000_000n;
  const traces = Array.from({ length: o.traces }, (_, t) => {
    const traceId = hex(16);
    const spans = Array.from({ length: o.spansPerTrace }, (_, j) => {
      const noise = t % 17 === 3 && j === o.spansPerTrace - 1;
      const error = t % 11 === 5 && j === 1;
      const slowMs = t % 13 === 7 && j === 0 ? 6000 : 20 + ((t * 7 + j * 3) % 200);
      const begin = start + BigInt(t) * 1_000_000n + BigInt(j) * 100_000n;
      return {
        noise,
        json: {
          traceId,
          spanId: hex(8),
          parentSpanId: '',
          name: noise ? 'GET /healthz' : j === 0 ? 'GET /images/{id}' : `db.query ${j}`,
          kind: j === 0 ? 2 : 3,
          startTimeUnixNano: String(begin),
          endTimeUnixNano: String(begin + BigInt(slowMs) * 1_000_000n),
          attributes: [
            { key: 'http.route', value: { stringValue: noise ? '/healthz' : '/images/{id}' } },
            { key: 'http.request.method', value: { stringValue: 'GET' } },
            { key: 'http.response.status_code', value: { intValue: String(error ? 500 : 200) } },
            { key: 'test.seq', value: { intValue: String(t * 100 + j) } },
          ],
          status: error ? { code: 2, message: 'failed' } : { code: 0 },
        },
      };
    });
    return { traceId, spans };
  });
  const requests: { body: unknown; spans: SentSpan[] }[] = [];
  const half = Math.ceil(o.spansPerTrace / 2);
  for (let i = 0; i < traces.length; i += o.tracesPerRequest) {
    const group = traces.slice(i, i + o.tracesPerRequest);
    for (const part of [0, 1]) {
      const spans = group.flatMap((t) => (part === 0 ? t.spans.slice(0, half) : t.spans.slice(half)));
      requests.push({
        body: {
          resourceSpans: [
            {
              resource: {
                attributes: [
                  { key: 'service.name', value: { stringValue: 'image-service' } },
                  { key: 'host.name', value: { stringValue: 'node-1' } },
                ],
              },
              scopeSpans: [
                { scope: { name: 'mp-otel-tiers-test', version: '1' }, spans: spans.map((s) => s.json) },
              ],
            },
          ],
        },
        spans: spans.map((s) => ({ traceId: s.json.traceId, spanId: s.json.spanId, noise: s.noise })),
      });
    }
  }
  return { traces: traces.map((t) => t.traceId), requests };
}

/** POSTs one OTLP/JSON request; true when the front acknowledged it (2xx). */
export async function send(url: string, body: unknown): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Span ids in an OTLP/JSON traces body (also of requests the sink refused). */
export function spanIdsOf(body: any): string[] {
  return (body?.resourceSpans ?? []).flatMap((rs: any) =>
    (rs.scopeSpans ?? []).flatMap((ss: any) => (ss.spans ?? []).map((s: any) => s.spanId as string)),
  );
}
