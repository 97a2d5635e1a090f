// Diagnosis on spans generated in SQL (the cube is filled by its materialized views, as in production),
// with known culprits: fast, deterministic, and independent of the simulator.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Embedded, startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { diagnose, formatDiagnosis, renderReport } from '../src/index.js';

let emb: Embedded;
const dataDir = join(tmpdir(), `mp-otel-diagnose-${process.pid}`);
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000; // 40 minutes of history, minute-aligned

beforeAll(async () => {
  emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
}, 120_000);
afterAll(async () => {
  await emb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const t of ['otel_traces', 'mp_sli_1m', 'mp_sli_1h'])
    await emb.client.command({ query: `TRUNCATE TABLE ${emb.database}.${t}` });
});

/**
 * 240 client spans a minute for 40 minutes on upload.image, spread over os × base library × host version
 * × network; `bad` is a SQL condition (on os, bl, host, net, minute) for spans that fail from minute 30 on,
 * with `status` (0 = no answer: a timeout). A 0.3 % background of 500s everywhere.
 */
async function generate(bad: string, status: number, layer: 'client' | 'backend' = 'client', slow = false) {
  const kind = layer === 'client' ? 'Client' : 'Server';
  await emb.client.command({
    query: `
      INSERT INTO ${emb.database}.otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
      WITH number % 240 AS i, intDiv(number, 240) AS minute,
           ['ios', 'android'][1 + i % 2] AS os, ['3.4.10', '3.5.0'][1 + intDiv(i, 2) % 2] AS bl,
           ['8.0.49', '8.0.50'][1 + intDiv(i, 4) % 2] AS host, ['wifi', '4g', '5g'][1 + intDiv(i, 8) % 3] AS net,
           ['node-1', 'node-2'][1 + intDiv(i, 24) % 2] AS node,
           minute >= 30 AND (${bad}) AS failing,
           cityHash64(number) % 1000 < 3 AS background
      SELECT fromUnixTimestamp64Milli(toInt64(${T0} + minute * 60000 + i * 200)),
             hex(cityHash64(number, 1)), hex(cityHash64(number, 2)), 'POST upload.image', '${kind}',
             ${layer === 'client' ? "'image-miniprogram'" : "'image-service'"},
             map('mp.platform', ${layer === 'client' ? "'wechat'" : "''"}, 'os.name', ${layer === 'client' ? 'os' : "''"},
                 'mp.base_library.version', ${layer === 'client' ? 'bl' : "''"}, 'mp.host.version', ${layer === 'client' ? 'host' : "''"},
                 'host.name', ${layer === 'backend' ? 'node' : "''"}),
             map('mp.route_name', 'upload.image', 'http.request.method', 'POST', 'network.connection.type', net,
                 'http.response.status_code', toString(multiIf(failing AND ${status} > 0, ${status}, failing, 0, background, 500, 201)),
                 'error.type', multiIf(failing AND ${status} > 0, toString(${status}), failing, 'timeout', background, '500', '')),
             toUInt64(if(failing AND ${slow ? 1 : 0}, 5000, 40 + i % 50) * 1000000),
             if((failing AND NOT ${slow ? 1 : 0}) OR background, 'Error', 'Unset')
        FROM numbers(240 * 40)`,
  });
}

const diagnoseNow = (at?: number) => diagnose({ client: emb.client, database: emb.database, at });

describe('diagnose', () => {
  test('the seed incident: ios AND base library 3.5.0, not its parents, not its children', async () => {
    await generate("os = 'ios' AND bl = '3.5.0'", 400);
    const d = await diagnoseNow();
    expect(d.anomaly).toMatchObject({ route: 'upload.image', layer: 'client', kpi: 'error_rate' });
    expect(d.anomaly!.onsetMs).toBe(T0 + 30 * 60_000);
    expect(d.culprits[0]!.where).toEqual({ 'os.name': 'ios', 'mp.base_library.version': '3.5.0' });
    expect(d.set).toEqual([{ 'os.name': 'ios', 'mp.base_library.version': '3.5.0' }]);
    const names = d.culprits.map((c) => JSON.stringify(c.where));
    expect(names.indexOf(JSON.stringify({ 'os.name': 'ios' }))).toBeGreaterThan(0);
    expect(d.culprits[0]!.explains).toBeGreaterThan(0.95);
    expect(d.verdict?.layer).toBe('client');
    expect(d.codes[0]).toMatchObject({ status: 400 });
    expect(formatDiagnosis(d)).toContain('os.name=ios AND mp.base_library.version=3.5.0');
    const html = await renderReport({ client: emb.client, database: emb.database, diagnosis: d });
    expect(html.match(/<h4><code>[0-9A-F]+<\/code><\/h4>/g)?.length).toBe(3); // exemplar traces of the culprit
  });

  test('named within two minutes of the onset', async () => {
    await generate("os = 'ios' AND bl = '3.5.0'", 400);
    const d = await diagnoseNow(T0 + 32 * 60_000);
    expect(d.culprits[0]!.where).toEqual({ 'os.name': 'ios', 'mp.base_library.version': '3.5.0' });
  });

  test('a three-dimension culprit', async () => {
    await generate("os = 'android' AND host = '8.0.50' AND net = '4g'", 400);
    const d = await diagnoseNow();
    expect(d.culprits[0]!.where).toEqual({
      'os.name': 'android',
      'mp.host.version': '8.0.50',
      'network.type': '4g',
    });
  });

  test('two base-library versions on two platforms failing at once: both elements form the set', async () => {
    await generate("(os = 'ios' AND bl = '3.5.0') OR (os = 'android' AND bl = '3.4.10')", 400);
    const d = await diagnoseNow();
    expect(d.anomaly).toMatchObject({ route: 'upload.image', layer: 'client', kpi: 'error_rate' });
    expect(d.set).toHaveLength(2);
    expect(d.set).toEqual(
      expect.arrayContaining([
        { 'os.name': 'ios', 'mp.base_library.version': '3.5.0' },
        { 'os.name': 'android', 'mp.base_library.version': '3.4.10' },
      ]),
    );
    expect(d.culprits.slice(0, 2).every((c) => c.inSet && c.explains > 0.4)).toBe(true);
    expect(formatDiagnosis(d)).toContain('root cause: 2 combinations together');
  });

  test('timeouts that never got an answer: the network', async () => {
    await generate("net = '5g'", 0);
    const d = await diagnoseNow();
    expect(d.culprits[0]!.where).toEqual({ 'network.type': '5g' });
    expect(d.verdict?.layer).toBe('network');
  });

  test('a slow backend node', async () => {
    await generate("node = 'node-2'", 201, 'backend', true);
    const d = await diagnoseNow();
    expect(d.anomaly).toMatchObject({ layer: 'backend', kpi: 'slow_ratio' });
    expect(d.culprits[0]!.where).toEqual({ 'host.name': 'node-2' });
    expect(d.verdict?.layer).toBe('backend');
    // exemplars: slow (over the route's 3 s SLO) spans of the culprit node, from otel_traces
    const html = await renderReport({ client: emb.client, database: emb.database, diagnosis: d });
    expect(html).not.toContain('No exemplar traces found');
    expect(html.match(/<h4><code>[0-9A-F]+<\/code><\/h4>/g)?.length).toBe(3);
  });

  test('a gateway anomaly is localized by what gateway spans carry: the carrier of the client IP', async () => {
    // Kong knows the client's IP only: carrier and province come from the cube's IP geo, as in production.
    const db = emb.database;
    await emb.client.command({ query: `TRUNCATE TABLE ${db}.mp_ip_geo` });
    await emb.client.command({
      query: `INSERT INTO ${db}.mp_ip_geo (ip_start, ip_end, country, province, city, isp, carrier) VALUES
        (toUInt32(toIPv4('1.0.0.0')), toUInt32(toIPv4('1.0.0.255')), '中国', '北京', '北京市', '联通', 'unicom'),
        (toUInt32(toIPv4('1.0.1.0')), toUInt32(toIPv4('1.0.1.255')), '中国', '广东省', '广州市', '联通', 'unicom'),
        (toUInt32(toIPv4('2.0.0.0')), toUInt32(toIPv4('2.0.1.255')), '中国', '广东省', '广州市', '电信', 'telecom'),
        (toUInt32(toIPv4('3.0.0.0')), toUInt32(toIPv4('3.0.1.255')), '中国', '北京', '北京市', '移动', 'mobile')`,
    });
    await emb.client.command({ query: `SYSTEM RELOAD DICTIONARY ${db}.mp_ip_geo_dict` });
    await emb.client.command({
      query: `
        INSERT INTO ${db}.otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
        WITH number % 240 AS i, intDiv(number, 240) AS minute, ['1', '2', '3'][1 + i % 3] AS net,
             minute >= 30 AND net = '1' AND i % 2 = 0 AS failing
        SELECT fromUnixTimestamp64Milli(toInt64(${T0} + minute * 60000 + i * 200)),
               hex(cityHash64(number, 1)), hex(cityHash64(number, 2)), 'kong', 'Server', 'kong', map('service.name', 'kong'),
               map('mp.route_name', 'upload.image', 'http.method', 'POST', 'http.client_ip', concat(net, '.0.', toString(intDiv(i, 6) % 2), '.', toString(i % 200)),
                   'http.status_code', if(failing, '502', '201')),
               toUInt64(40000000), if(failing, 'Error', 'Unset')
          FROM numbers(240 * 40)`,
    });
    const d = await diagnoseNow();
    expect(d.anomaly).toMatchObject({ layer: 'gateway', route: 'upload.image', kpi: 'error_rate' });
    expect(d.culprits[0]!.where).toEqual({ carrier: 'unicom' });
    expect(d.verdict?.layer).toBe('gateway');
  });

  test('a problem confined to one small segment is detected in its own series', async () => {
    // 100 provinces, ~1 % of the traffic each: one of them going from 0.3 % to 40 % errors moves the route's
    // total by ~0.4 points, under the 0.5-point bar; its own series moves by 40
    const db = emb.database;
    await emb.client.command({
      query: `INSERT INTO ${db}.mp_sli_1m (Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, Platform, OsName, BaseLibraryVersion,
                HostVersion, AppVersion, NetworkType, Carrier, Province, Spans, Requests, Errors, AvailGood, AvailTotal, Slow, DurationSumMs, DurationMaxMs, LatencyMs)
        WITH intDiv(number, 400) AS minute, number % 400 AS i, concat('p', toString(i % 100)) AS province,
             ['ios', 'android'][1 + intDiv(i, 100) % 2] AS os, ['3.4.10', '3.5.0'][1 + intDiv(i, 200) % 2] AS bl,
             minute >= 30 AND province = 'p7' AS failing, cityHash64(number) % 1000 < 3 AS background,
             if(failing, if(cityHash64(number, 7) % 10 < 4, 1, 0), if(background, 1, 0)) AS errors
        SELECT toDateTime(${Math.floor(T0 / 1000)} + 60 * minute), 'client', 'upload.image', 'image-miniprogram', if(errors > 0, 500, 201),
               if(errors > 0, '500', ''), 'wechat', os, bl, '8.0.50', '1.4.2', 'wifi', 'telecom', province,
               1, 1, errors, 1 - errors, 1, 0, 40, 40,
               initializeAggregation('quantilesTDigestWeightedState(0.5, 0.9, 0.95, 0.99)', toFloat64(40), toUInt64(1))
          FROM numbers(400 * 40)`,
    });
    const d = await diagnoseNow();
    expect(d.anomaly, formatDiagnosis(d)).toMatchObject({
      route: 'upload.image',
      layer: 'client',
      series: { province: 'p7' },
    });
    expect(d.anomaly!.onsetMs).toBe(T0 + 30 * 60_000);
    expect(d.set).toEqual([{ province: 'p7' }]);
  });

  test('no fault, no anomaly; the report says so', async () => {
    await generate('0', 400);
    const d = await diagnoseNow();
    expect(d.anomaly, formatDiagnosis(d)).toBeUndefined();
    const html = await renderReport({ client: emb.client, database: emb.database, diagnosis: d });
    expect(html).toContain('No anomaly');
  });
});
