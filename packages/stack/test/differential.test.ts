// Differential test of the parity rule: for the same OTLP input, the rows that the collector's clickhouse
// exporter writes (through the embedded ClickHouse-compatible endpoint of `mp-otel up`, into chDB) equal,
// column by column, the rows the embedded OTLP receiver writes itself.
// Input: what the real mini-program SDK (on the devkit wx shim, via collector/compose/traffic.mjs) sends,
// captured byte for byte and replayed into both paths.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OtlpCapture, startOtlpCapture } from '@mp-otel/devkit';
import { startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectorDir,
  ensureCollector,
  removeTempFiles,
  startCollector,
  tempFile,
} from '../src/collector.js';

type Embedded = Awaited<ReturnType<typeof startEmbedded>>;
type Row = Record<string, unknown>;

/**
 * The exporter's driver (clickhouse-go 2.46 over HTTP) starts every connection with a "server hello"
 * query, sent with client_protocol_version=54460, and decodes its Native answer in that revision's layout:
 * a BlockInfo prefix, then per column name, type, a custom-serialization flag byte, data. Later queries are
 * decoded with the revision() the hello returned. Returns whether the endpoint's hello decodes that way.
 */
async function endpointSpeaksClickhouseGo(
  url: string,
  user: { username: string; password: string },
): Promise<boolean> {
  const res = await fetch(`${url}/?client_protocol_version=54460&default_format=Native`, {
    method: 'POST',
    body: 'SELECT displayName(), version(), revision(), timezone()',
    headers: { 'X-ClickHouse-User': user.username, 'X-ClickHouse-Key': user.password },
  });
  if (!res.ok) return false;
  const b = Buffer.from(await res.arrayBuffer());
  let o = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = b[o++];
      if (byte === undefined) throw new Error('eof');
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  };
  const str = () => {
    const n = varint();
    const v = b.subarray(o, o + n).toString('utf8');
    o += n;
    return v;
  };
  try {
    // BlockInfo: field 1 (is_overflows: UInt8), field 2 (bucket_num: Int32), 0
    if (varint() !== 1) return false;
    o += 1;
    if (varint() !== 2) return false;
    o += 4;
    if (varint() !== 0) return false;
    if (varint() !== 4 || varint() !== 1) return false;
    for (const type of ['String', 'String', 'UInt32', 'String']) {
      str();
      if (str() !== type || b[o++] !== 0) return false;
      if (type === 'UInt32') o += 4;
      else str();
    }
    return o === b.length;
  } catch {
    return false;
  }
}

// A total order that does not depend on how each path ordered a map's keys (mapSort), so that two rows
// tied on time, trace and body compare the same way on both sides.
async function rows(emb: Embedded, table: string, order: string): Promise<Row[]> {
  const rs = await emb.client.query({
    query: `SELECT * FROM ${table} ORDER BY ${order}`,
    format: 'JSONEachRow',
  });
  return rs.json<Row>();
}

describe('differential: collector → clickhouse exporter → embedded endpoint vs embedded receiver', () => {
  let emb: Embedded;
  let dataDir: string;
  let capture: OtlpCapture;
  let gateway: Server;
  let supported = false;

  beforeAll(async () => {
    ensureCollector();
    dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-diff-'));
    emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
    // the exporter connects as the insert-only user, as in docker-compose
    supported = await endpointSpeaksClickhouseGo(emb.clickhouseUrl, emb.credentials.writer);

    // Capture the SDK's telemetry: uploads fail (400), downloads succeed; sampleRate 0.5 in the generator.
    // every request, retries included: they are what the replay must reproduce
    capture = await startOtlpCapture({ dedupe: false });
    gateway = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.method === 'POST' ? 400 : 200).end('{}'));
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const gw = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    const child = spawn(process.execPath, [join(collectorDir, 'compose', 'traffic.mjs')], {
      env: {
        ...process.env,
        GATEWAY_URL: gw,
        OTLP_ENDPOINT: capture.url,
        TRAFFIC_RPS: '50',
        TRAFFIC_MAX_REQUESTS: '12',
      },
      stdio: 'ignore',
    });
    await new Promise((r) => child.on('exit', r));
  });

  afterAll(async () => {
    removeTempFiles();
    await emb?.close();
    await capture?.close();
    await new Promise<void>((r) => (gateway ? gateway.close(() => r()) : r()));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("the embedded endpoint answers the exporter driver's server hello in clickhouse-go's layout", () => {
    expect(supported).toBe(true);
  });

  it('writes the same otel_traces / otel_logs rows through both paths', async () => {
    const inputs = capture.requests.filter((r) => r.signal === 'traces' || r.signal === 'logs');
    expect(inputs.length).toBeGreaterThan(0);
    const replay = async (base: string) => {
      for (const r of inputs) {
        const res = await fetch(`${base}/v1/${r.signal}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(r.body),
        });
        expect(res.ok).toBe(true);
      }
    };

    // A: the embedded receiver
    await replay(emb.otlpUrl);
    await emb.flush();
    const tracesA = await rows(emb, 'otel_traces', 'TraceId, SpanId');
    const logsA = await rows(
      emb,
      'otel_logs',
      'Timestamp, TraceId, Body, toString(mapSort(ResourceAttributes)), toString(mapSort(LogAttributes))',
    );
    expect(tracesA.length).toBeGreaterThan(0);
    expect(logsA.length).toBeGreaterThan(0); // the generator reports failed uploads as exceptions
    await emb.client.command({ query: 'TRUNCATE TABLE otel_traces' });
    await emb.client.command({ query: 'TRUNCATE TABLE otel_logs' });

    // B: the collector (plain pipeline: the parity rule is about the exporter's row mapping; enrichment
    // processors are tested in pipeline.test.ts)
    const config = tempFile(
      'parity.yaml',
      `receivers:
  otlp:
    protocols:
      http:
        endpoint: \${env:MP_OTEL_OTLP_HTTP_ENDPOINT}
extensions:
  health_check:
    endpoint: \${env:MP_OTEL_HEALTH_ENDPOINT}
processors:
  batch:
    timeout: 200ms
exporters:
  clickhouse:
    endpoint: ${emb.clickhouseUrl}
    username: ${emb.credentials.writer.username}
    password: ${JSON.stringify(emb.credentials.writer.password)}
    database: ${emb.database}
    create_schema: false
    compress: none
    async_insert: false
service:
  extensions: [health_check]
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
`,
    );
    const col = await startCollector([config]);
    try {
      await replay(col.otlpHttp);
      const count = async (t: string) => (await rows(emb, t, 'tuple()')).length;
      const deadline = Date.now() + 30_000;
      while ((await count('otel_traces')) < tracesA.length || (await count('otel_logs')) < logsA.length) {
        if (Date.now() > deadline)
          throw new Error(`collector rows did not arrive:\n${col.logs().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await col.stop();
    }
    const tracesB = await rows(emb, 'otel_traces', 'TraceId, SpanId');
    const logsB = await rows(
      emb,
      'otel_logs',
      'Timestamp, TraceId, Body, toString(mapSort(ResourceAttributes)), toString(mapSort(LogAttributes))',
    );
    expect(tracesB).toEqual(tracesA);
    expect(logsB).toEqual(logsA);
  });
});
