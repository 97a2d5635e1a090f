// Issue 11, "Telemetry values inject SQL into dashboards": a client sends a span whose base-library version
// is SQL; Grafana offers it as a dropdown option, and the trace explorer's text boxes take anything. Every
// dashboard query, with that value selected / typed, runs through the plugin's pipeline (our expander, the
// same formats as Grafana's) on the real engine: nothing fails (throwIf would), and the value matches itself
// as data. Would fail if any query went back to `IN ($var)` / `'${var}'` (the expander refuses those formats
// for such a value) or if the expander passed it raw (throwIf runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboards } from '../src/dashboards.js';
import { runDashboard } from '../src/run.js';
import { catalog } from './paths.js';

const HOSTILE = "3.9.9') OR throwIf(1,'x') OR BaseLibraryVersion IN ('x";
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const dashboards = new Map(buildDashboards(catalog).map((d) => [d.uid, d]));
let emb: Awaited<ReturnType<typeof startEmbedded>>;
let dataDir: string;
const now = Date.now();

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-grafana-injection-'));
  emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
  const start = BigInt(now - 120_000) * 1_000_000n;
  const body = {
    resourceSpans: [
      {
        resource: {
          attributes: [
            str('service.name', 'hostile-app'),
            str('mp.platform', 'wechat'),
            str('os.name', 'ios'),
            str('mp.base_library.version', HOSTILE),
            str('mp.fingerprint', HOSTILE),
          ],
        },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: [
              {
                traceId: TRACE_ID,
                spanId: 'b7ad6b7169203331',
                name: 'POST',
                kind: 3,
                startTimeUnixNano: String(start),
                endTimeUnixNano: String(start + 50_000_000n),
                attributes: [
                  str('http.request.method', 'POST'),
                  str('url.full', 'https://api.example.com/upload'),
                  str('mp.route_name', 'upload.image'),
                  { key: 'http.response.status_code', value: { intValue: '400' } },
                ],
                status: {},
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${emb.otlpUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  await emb.flush();
});

afterAll(async () => {
  await emb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a hostile telemetry value in dashboard variables', () => {
  it('is offered as a dropdown option, and selecting it runs every code-errors query as data', async () => {
    const d = dashboards.get('mp-code-errors')!;
    const base = await runDashboard(d, { client: emb.client, to: now });
    const options = base.find((r) => r.source === 'variable' && r.title === 'base_library')!;
    expect(options.rows.map((r) => Object.values(r)[0])).toContain(HOSTILE);
    const results = await runDashboard(d, {
      client: emb.client,
      to: now,
      variables: { base_library: [HOSTILE] },
    });
    for (const r of results) expect(r.error, `${r.title}: ${r.sql}`).toBeUndefined();
    const statuses = results.find((r) => r.title === 'HTTP status distribution (client)')!;
    expect(statuses.rows).toEqual([{ status: '400', requests: 1 }]);
    const byFingerprint = results.find((r) => r.title === '400 ratio by fingerprint dimensions')!;
    expect(byFingerprint.rows.map((r) => r.base_library)).toEqual([HOSTILE]);
  });

  it('typed into the trace explorer (trace id, fingerprint) is data in every query', async () => {
    const d = dashboards.get('mp-traces')!;
    const hostile = await runDashboard(d, {
      client: emb.client,
      to: now,
      variables: { trace_id: HOSTILE, fingerprint: HOSTILE },
    });
    for (const r of hostile) expect(r.error, `${r.title}: ${r.sql}`).toBeUndefined();
    expect(hostile.find((r) => r.title === 'Client requests')!.rows).toEqual([]);
    const byFingerprint = await runDashboard(d, {
      client: emb.client,
      to: now,
      variables: { fingerprint: HOSTILE },
    });
    const rows = byFingerprint.find((r) => r.title === 'Client requests')!.rows;
    expect(rows.map((r) => r.trace_id)).toEqual([TRACE_ID]);
    expect(rows[0]!.base_library).toBe(HOSTILE);
  });
});
