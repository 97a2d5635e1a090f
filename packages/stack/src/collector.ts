// Helpers for tests and benchmarks that run the real mp-otel collector distribution.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor as devkitWaitFor, repoRoot } from '@mp-otel/devkit';

const root = repoRoot();
export const collectorDir = join(root, 'collector');
export const collectorBinary = join(collectorDir, '_build', 'mp-otel-collector');
export const shippedConfig = join(collectorDir, 'config.yaml');
export const geoTestDb = join(root, 'packages', 'stack', 'fixtures', 'geo-test.mmdb');
export const FEATURE_GATES = '--feature-gates=processor.tailsamplingprocessor.recordpolicy';

/** Builds the collector when needed (idempotent: scripts/build-collector.mjs skips an up-to-date binary). */
export function ensureCollector(): string {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-collector.mjs'), '--quiet'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (!existsSync(collectorBinary)) throw new Error(`collector binary missing: ${collectorBinary}`);
  return collectorBinary;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const tempDirs: string[] = [];
/** Removes the files tempFile() wrote (call from afterAll). */
export function removeTempFiles(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Writes a file into a fresh temporary directory (see removeTempFiles). */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mp-otel-collector-'));
  tempDirs.push(dir);
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

export interface RunningCollector {
  otlpHttp: string;
  otlpGrpcPort: number;
  healthPort: number;
  logs: () => string;
  stop: () => Promise<void>;
}

/** Runs `collector validate`; returns exit code and output. */
export function validateConfig(configs: string[], env: Record<string, string> = {}) {
  try {
    const out = execFileSync(
      collectorBinary,
      ['validate', ...configs.map((c) => `--config=${c}`), FEATURE_GATES],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return { code: 0, output: out.toString() };
  } catch (err) {
    const e = err as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { code: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Starts the collector on free loopback ports and waits for its health check. */
export async function startCollector(
  configs: string[],
  env: Record<string, string> = {},
): Promise<RunningCollector> {
  const [httpPort, grpcPort, healthPort] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    collectorBinary,
    [...configs.map((c) => `--config=${c}`), FEATURE_GATES],
    {
      env: {
        ...process.env,
        MP_OTEL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
        MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
        MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${healthPort}`,
        MP_OTEL_GEOIP_DB: geoTestDb,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`collector exited during start-up:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${healthPort}/`);
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`collector not healthy after 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    otlpHttp: `http://127.0.0.1:${httpPort}`,
    otlpGrpcPort: grpcPort,
    healthPort,
    logs: () => output,
    stop: async () => {
      if (exited) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** A YAML overlay that sends every pipeline to an OTLP/HTTP JSON sink (devkit's startOtlpCapture) instead of
 *  ClickHouse. */
export function sinkOverlay(sinkUrl: string): string {
  return `exporters:
  otlphttp/sink:
    endpoint: ${sinkUrl}
    encoding: json
    compression: none
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      exporters: [otlphttp/sink]
    logs:
      exporters: [otlphttp/sink]
    metrics:
      exporters: [otlphttp/sink]
`;
}

// ---------------------------------------------------------------- OTLP/JSON builders

export type AttrInput = Record<string, string | number | boolean>;
export function kv(a: AttrInput) {
  return Object.entries(a).map(([key, v]) => ({
    key,
    value:
      typeof v === 'string'
        ? { stringValue: v }
        : typeof v === 'boolean'
          ? { boolValue: v }
          : Number.isInteger(v) && !key.endsWith('.weight')
            ? { intValue: String(v) }
            : { doubleValue: v },
  }));
}
export const newTraceId = () => randomBytes(16).toString('hex');
export const newSpanId = () => randomBytes(8).toString('hex');

export interface SpanInput {
  traceId?: string;
  name?: string;
  kind?: number; // 1 internal, 2 server, 3 client
  attributes?: AttrInput;
  error?: boolean;
  durationMs?: number;
}
export function tracesRequest(resource: AttrInput, spans: SpanInput[]) {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: kv(resource) },
        scopeSpans: [
          {
            scope: { name: 'mp-otel-test', version: '1' },
            spans: spans.map((s) => ({
              traceId: s.traceId ?? newTraceId(),
              spanId: newSpanId(),
              name: s.name ?? 'GET',
              kind: s.kind ?? 3,
              startTimeUnixNano: String(now),
              endTimeUnixNano: String(now + BigInt(Math.round((s.durationMs ?? 20) * 1e6))),
              attributes: kv(s.attributes ?? {}),
              status: s.error ? { code: 2, message: 'failed' } : { code: 0 },
            })),
          },
        ],
      },
    ],
  };
}
export function logsRequest(resource: AttrInput, records: { body: string; attributes?: AttrInput }[]) {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return {
    resourceLogs: [
      {
        resource: { attributes: kv(resource) },
        scopeLogs: [
          {
            scope: { name: 'mp-otel-test' },
            logRecords: records.map((r) => ({
              timeUnixNano: now,
              observedTimeUnixNano: now,
              severityNumber: 17,
              severityText: 'ERROR',
              body: { stringValue: r.body },
              attributes: kv(r.attributes ?? {}),
            })),
          },
        ],
      },
    ],
  };
}

export async function postOtlp(
  base: string,
  signal: 'traces' | 'logs' | 'metrics',
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /v1/${signal}: ${res.status} ${text}`);
  return text;
}

/** devkit's waitFor, with the longer default a collector round trip needs. */
export function waitFor<T>(
  fn: () => T | undefined | false,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  return devkitWaitFor(fn, timeoutMs, what);
}
