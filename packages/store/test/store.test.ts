// The embedded store: the ClickHouse-compatible endpoint driven by the official @clickhouse/client,
// migrations (twice = once, database name and TTL configurable), restart keeps data, the SLI cube and
// its hourly rollup filled by materialized views (route from the catalog, layers, weights, geo).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseError, createClient } from '@clickhouse/client';
import { threadStats } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSetNice, LANE_NICE, MERGE_NICE } from '../src/chdb-store.js';
import { migrate } from '../src/index.js';
import { insertRowBinaryFile } from '../src/otlp/rowbinary.js';
import { sortTraceRows } from '../src/otlp/sort-rows.js';
import { embedded, encodeRows, hexId, kv, nowNs, post, str, traceRow } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-store-'));
let emb: Awaited<ReturnType<typeof embedded>>;

beforeAll(async () => {
  emb = await embedded({ dataDir, geo: true });
});
afterAll(async () => {
  await emb?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

/** fetch as the administrator (the endpoint requires credentials) */
const chFetch = (url: string, init: RequestInit = {}) =>
  fetch(url, {
    ...init,
    headers: {
      Authorization: `Basic ${Buffer.from(`${emb.credentials.admin.username}:${emb.credentials.admin.password}`).toString('base64')}`,
      ...(init.headers as Record<string, string> | undefined),
    },
  });

const q = async <T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}) =>
  (await emb.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<T>();

describe('ClickHouse-compatible HTTP endpoint', () => {
  it('serves ping, commands, inserts, selects, parameters and typed errors', async () => {
    const c = createClient({
      url: emb.clickhouseUrl,
      username: emb.credentials.admin.username,
      password: emb.credentials.admin.password,
    });
    try {
      expect((await c.ping()).success).toBe(true);
      await c.command({
        query:
          'CREATE TABLE IF NOT EXISTS default.t1 (id UInt32, s String, m Map(String, String)) ENGINE = MergeTree ORDER BY id',
      });
      await c.insert({
        table: 'default.t1',
        values: [
          { id: 1, s: 'a', m: { k: 'v' } },
          { id: 2, s: 'b\'"\n', m: {} },
        ],
        format: 'JSONEachRow',
      });
      const rows = await (
        await c.query({
          query: 'SELECT * FROM default.t1 WHERE id >= {min:UInt32} ORDER BY id',
          query_params: { min: 1 },
          format: 'JSONEachRow',
        })
      ).json();
      expect(rows).toEqual([
        { id: 1, s: 'a', m: { k: 'v' } },
        { id: 2, s: 'b\'"\n', m: {} },
      ]);
      const csv = await (
        await c.query({ query: 'SELECT id, s FROM default.t1 ORDER BY id LIMIT 1', format: 'CSV' })
      ).text();
      expect(csv).toBe('1,"a"\n');
      const json = await (
        await c.query({ query: 'SELECT count() AS n FROM default.t1', format: 'JSON' })
      ).json<{ data: { n: string }[]; meta: unknown[] }>();
      expect(json.data).toEqual([{ n: '2' }]);
      expect(json.meta).toEqual([{ name: 'n', type: 'UInt64' }]);
      const err = await c
        .query({ query: 'SELECT * FROM default.no_such_table', format: 'JSONEachRow' })
        .catch((e) => e);
      expect(err).toBeInstanceOf(ClickHouseError);
      expect((err as ClickHouseError).code).toBe('60');
      expect((err as ClickHouseError).type).toBe('UNKNOWN_TABLE');
      const syntax = await c.command({ query: 'SELEC 1' }).catch((e) => e);
      expect((syntax as ClickHouseError).code).toBe('62');
    } finally {
      await c.close();
    }
  });

  it('accepts binary (Native) inserts the way clickhouse-go sends them over HTTP', async () => {
    await emb.client.command({
      query:
        'CREATE TABLE IF NOT EXISTS default.t2 (id UInt64, m Map(LowCardinality(String), String), ts DateTime64(9)) ENGINE = MergeTree ORDER BY id',
    });
    const native = await chFetch(
      `${emb.clickhouseUrl}/?query=${encodeURIComponent("SELECT number AS id, map('k', toString(number)) AS m, toDateTime64('2026-01-02 03:04:05.123456789', 9) AS ts FROM numbers(5) FORMAT Native")}`,
    );
    expect(native.status).toBe(200);
    const bytes = new Uint8Array(await native.arrayBuffer());
    const ins = await chFetch(
      `${emb.clickhouseUrl}/?query=${encodeURIComponent('INSERT INTO default.t2 (id, m, ts) FORMAT Native')}`,
      { method: 'POST', body: bytes },
    );
    expect(ins.status).toBe(200);
    expect(
      await q("SELECT sum(id) AS s, any(m['k']) != '' AS hasMap, toString(max(ts)) AS ts FROM default.t2"),
    ).toEqual([{ s: '10', hasMap: 1, ts: '2026-01-02 03:04:05.123456789' }]);
  });

  it('speaks the revision layout of Native that clickhouse-go (the collector exporter) uses', async () => {
    const rev = 54460;
    // the driver's hello, decoded the way clickhouse-go decodes it: BlockInfo, then name/type/flag/data
    const hello = await chFetch(
      `${emb.clickhouseUrl}/?client_protocol_version=${rev}&default_format=Native`,
      {
        method: 'POST',
        body: 'SELECT displayName(), version(), revision(), timezone()',
      },
    );
    expect(hello.status).toBe(200);
    const b = Buffer.from(await hello.arrayBuffer());
    expect([...b.subarray(0, 8)]).toEqual([1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0]);
    expect([b[8], b[9]]).toEqual([4, 1]); // 4 columns, 1 row
    let o = 10;
    const str = () => {
      const n = b[o++] as number;
      const v = b.toString('utf8', o, o + n);
      o += n;
      return v;
    };
    const types: string[] = [];
    for (let c = 0; c < 4; c++) {
      str();
      types.push(str());
      expect(b[o++]).toBe(0); // custom serialization flag
      if (types[c] === 'UInt32') o += 4;
      else str();
    }
    expect(types).toEqual(['String', 'String', 'UInt32', 'String']);
    expect(o).toBe(b.length);

    // the exporter's column types (LowCardinality, Map, nested arrays, Nullable, Tuple) through the transcoder
    await emb.client.command({
      query: `CREATE TABLE IF NOT EXISTS default.t3 (ts DateTime64(9), s LowCardinality(String), m Map(LowCardinality(String), String),
        ev Array(DateTime64(9)), evm Array(Map(LowCardinality(String), String)), n Nullable(String), u UInt64, f Float64, b Bool,
        t Tuple(a String, b Array(UInt8))) ENGINE = MergeTree ORDER BY ts`,
    });
    const select = `SELECT toDateTime64('2026-01-01 00:00:00', 9) + number AS ts, toLowCardinality(concat('svc', toString(number % 3))) AS s,
        map(toLowCardinality('k'), toString(number)) AS m, [ts, ts] AS ev, [map(toLowCardinality('a'), 'b')] AS evm,
        if(number % 2 = 0, NULL, 'x') AS n, number AS u, number / 3 AS f, number % 2 = 1 AS b, tuple('t', [1, 2]) AS t
      FROM numbers(20000) FORMAT Native`;
    const native = await chFetch(`${emb.clickhouseUrl}/?client_protocol_version=${rev}`, {
      method: 'POST',
      body: select,
    });
    expect(native.status).toBe(200);
    const selected = Buffer.from(await native.arrayBuffer());
    const plain = Buffer.from(
      await (await chFetch(`${emb.clickhouseUrl}/`, { method: 'POST', body: select })).arrayBuffer(),
    );
    // one block: BlockInfo (8 bytes) + one flag byte per column (10), the column data unchanged
    expect([...selected.subarray(0, 8)]).toEqual([1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0]);
    expect(selected.length).toBe(plain.length + 8 + 10);
    // the driver's INSERT bodies are plain Native (sent with client_protocol_version)
    const ins = await chFetch(
      `${emb.clickhouseUrl}/?client_protocol_version=${rev}&query=${encodeURIComponent('INSERT INTO default.t3 (ts, s, m, ev, evm, n, u, f, b, t) FORMAT Native')}`,
      { method: 'POST', body: plain },
    );
    expect(ins.status).toBe(200);
    const check =
      "SELECT count() AS c, sum(u) AS su, uniqExact(s) AS us, sum(length(ev)) AS ev, countIf(n IS NULL) AS nulls, max(m['k']) AS mk, sum(b) AS sb, any(t) AS t FROM default.t3";
    expect(await q(check)).toEqual([
      {
        c: '20000',
        su: '199990000',
        us: '3',
        ev: '40000',
        nulls: '10000',
        mk: '9999',
        sb: '10000',
        t: { a: 't', b: [1, 2] },
      },
    ]);
  });

  it('answers errors in ClickHouse form over raw HTTP', async () => {
    const res = await chFetch(`${emb.clickhouseUrl}/?query=${encodeURIComponent('SELECT * FROM nope_nope')}`);
    expect(res.status).toBe(404); // as a ClickHouse server answers UNKNOWN_TABLE
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await res.text()).toMatch(/^Code: 60\. DB::Exception: .*UNKNOWN_TABLE/);
    expect(await (await fetch(`${emb.clickhouseUrl}/ping`)).text()).toBe('Ok.\n');
  });

  it('runs SELECTs on the read lane: they do not queue behind a long write; writes keep their order', async () => {
    await emb.client.command({
      query: 'CREATE TABLE IF NOT EXISTS default.lanes (x UInt64) ENGINE = MergeTree ORDER BY x',
    });
    const done: string[] = [];
    // a write that takes seconds, straight on the store's write lane (as the ingest log's INSERTs are)
    const write = emb.store
      .query('INSERT INTO default.lanes SELECT sipHash64(number) FROM numbers(60000000)')
      .then(() => done.push('long write'));
    // a statement that changes something, sent after it through the endpoint: queued behind it
    const ddl = emb.client
      .command({ query: 'CREATE TABLE IF NOT EXISTS default.lanes_after (x UInt8) ENGINE = Memory' })
      .then(() => done.push('ddl'));
    // a read sent after both (through the endpoint: the SQL guard's parsing included)
    const read = q<{ n: string }>('SELECT count() AS n FROM default.lanes').then((r) => {
      done.push('read');
      return r;
    });
    await Promise.all([write, ddl, read]);
    expect(done).toEqual(['read', 'long write', 'ddl']);
    expect(await read).toEqual([{ n: '0' }]); // the read saw the table before the write committed
    await emb.client.command({ query: 'DROP TABLE default.lanes' });
    await emb.client.command({ query: 'DROP TABLE default.lanes_after' });
  });

  it('gets segments in the order otel_traces keeps: the engine finds them already sorted', async () => {
    // the engine's side of sort-rows.ts: its key must be otel_traces' ORDER BY, or every block is sorted again
    const base = nowNs();
    const rows = Array.from({ length: 300 }, (_, i) =>
      traceRow(
        ['shop', 'api', 'édition'][i % 3] as string,
        `route ${(i * 7) % 11}`,
        base + BigInt((i * 7919) % 1000) * 1_000_000n,
      ),
    );
    const shuffled = encodeRows(rows);
    const sorted = sortTraceRows(shuffled);
    expect(sorted).toBeDefined();
    await emb.store.query('CREATE TABLE default.sorted_copy AS otel.otel_traces');
    const alreadySorted = async () =>
      Number(
        new TextDecoder().decode(
          (
            await emb.store.query(
              "SELECT sum(value) FROM system.events WHERE event = 'MergeTreeDataWriterBlocksAlreadySorted'",
              'TSV',
            )
          ).bytes,
        ),
      );
    const insert = async (bytes: Buffer) => {
      const file = join(dataDir, 'segment.bin');
      writeFileSync(file, bytes);
      await insertRowBinaryFile(emb.store, 'default', 'sorted_copy', file, 'otel_traces');
    };
    const n0 = await alreadySorted();
    await insert(shuffled);
    const n1 = await alreadySorted();
    await insert(Buffer.concat(sorted as Buffer[]));
    const n2 = await alreadySorted();
    expect(n1 - n0).toBe(0); // arrival order: the engine sorted the block
    expect(n2 - n1).toBe(1); // one partition, one block, already in order
    expect(await q<{ n: string }>('SELECT count() AS n FROM default.sorted_copy')).toEqual([{ n: '600' }]);
    await emb.store.query('DROP TABLE default.sorted_copy');
  });

  it('runs reads above and writes below the OS priority of everything else (nice -1 / 5), merges between (2)', async () => {
    const setting = async (sql: string, lane: 'read' | 'write') =>
      new TextDecoder().decode((await emb.store.query(sql, 'TSV', undefined, undefined, lane)).bytes).trim();
    const perQuery = "SELECT getSetting('os_threads_nice_value_query')";
    expect(await setting(perQuery, 'read')).toBe(String(LANE_NICE.read));
    expect(await setting(perQuery, 'write')).toBe(String(LANE_NICE.write));
    expect(
      await setting(
        "SELECT value FROM system.server_settings WHERE name = 'os_threads_nice_value_merge_mutate'",
        'read',
      ),
    ).toBe(String(MERGE_NICE));
    expect(LANE_NICE.read).toBeLessThan(0);
    expect(LANE_NICE.write).toBeGreaterThan(MERGE_NICE);
    // ClickHouse applies nice values only with CAP_SYS_NICE; without it the settings above are no-ops, which
    // the README says
    if (!canSetNice()) return;
    /** the nice values of this process's threads while `work` runs (sampled every 10 ms) */
    const niceDuring = async (work: Promise<unknown>) => {
      const seen = new Set<number>();
      let running = true;
      void work.finally(() => {
        running = false;
      });
      while (running) {
        for (const s of threadStats().values()) seen.add(s.nice);
        await new Promise((r) => setTimeout(r, 10));
      }
      await work;
      return seen;
    };
    await emb.client.command({
      query: 'CREATE TABLE IF NOT EXISTS default.niced (x UInt64) ENGINE = MergeTree ORDER BY x',
    });
    expect(
      await niceDuring(
        emb.store.query('INSERT INTO default.niced SELECT sipHash64(number) FROM numbers(40000000)'),
      ),
    ).toContain(LANE_NICE.write);
    expect(
      await niceDuring(
        emb.store.query(
          'SELECT count() FROM numbers_mt(400000000) WHERE sipHash64(number) % 7 = 1',
          'TSV',
          undefined,
          undefined,
          'read',
        ),
      ),
    ).toContain(LANE_NICE.read);
    await emb.client.command({ query: 'DROP TABLE default.niced' });
  });
});

describe('migrations', () => {
  it('twice = once, and the database name and TTL are configurable', async () => {
    const schema = async (db: string) =>
      q<{ name: string; create_table_query: string }>(
        'SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name',
        { db },
      );
    const before = await schema('otel');
    expect(before.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'otel_traces',
        'otel_traces_trace_id_ts',
        'otel_traces_trace_id_ts_mv',
        'otel_logs',
        'otel_metrics_gauge',
        'otel_metrics_sum',
        'otel_metrics_histogram',
        'otel_metrics_exp_histogram',
        'otel_metrics_summary',
        'mp_sli_1m',
        'mp_sli_1m_mv',
        'mp_sli_1h',
        'mp_sli_1h_mv',
        'mp_sli_route_1m',
        'mp_sli_route_1m_mv',
        'mp_routes',
        'mp_ip_geo',
        'mp_ip_geo_dict',
        'mp_errors_1m',
        'mp_schema_migrations',
      ]),
    );
    const again = await migrate(emb.client);
    expect(again.applied).toEqual([]);
    expect(again.skipped.length).toBeGreaterThanOrEqual(7);
    expect(await schema('otel')).toEqual(before);
    expect((await q<{ n: string }>('SELECT count() AS n FROM otel.mp_schema_migrations'))[0]?.n).toBe(
      String(again.skipped.length),
    );

    const custom = await migrate(emb.client, { database: 'custom_db', ttlDays: 7, cubeTtlDays: 0 });
    expect(custom.applied.length).toBe(again.skipped.length);
    const tables = await schema('custom_db');
    const traces = tables.find((t) => t.name === 'otel_traces')?.create_table_query ?? '';
    expect(traces).toMatch(/TTL toDateTime\(Timestamp\) \+ toIntervalDay\(7\)/);
    expect(tables.find((t) => t.name === 'mp_sli_1m')?.create_table_query).not.toMatch(/TTL/);
    // exporter INSERT columns, types as in the exporter's DDL
    const cols = await q<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = 'custom_db' AND table = 'otel_traces' ORDER BY position",
    );
    expect(cols.map((c) => `${c.name} ${c.type}`)).toEqual([
      'Timestamp DateTime64(9)',
      'TraceId String',
      'SpanId String',
      'ParentSpanId String',
      'TraceState String',
      'SpanName LowCardinality(String)',
      'SpanKind LowCardinality(String)',
      'ServiceName LowCardinality(String)',
      'ResourceAttributes Map(LowCardinality(String), String)',
      'ScopeName String',
      'ScopeVersion String',
      'SpanAttributes Map(LowCardinality(String), String)',
      'Duration UInt64',
      'StatusCode LowCardinality(String)',
      'StatusMessage String',
      'Events.Timestamp Array(DateTime64(9))',
      'Events.Name Array(LowCardinality(String))',
      'Events.Attributes Array(Map(LowCardinality(String), String))',
      'Links.TraceId Array(String)',
      'Links.SpanId Array(String)',
      'Links.TraceState Array(String)',
      'Links.Attributes Array(Map(LowCardinality(String), String))',
    ]);
  });
});

describe('SLI cube', () => {
  it('materialized views fill the per-minute cube and the hourly rollup', async () => {
    const t = nowNs() - 120_000_000_000n; // two minutes ago
    const span = (o: Record<string, unknown>, attrs: Record<string, unknown>) => ({
      traceId: hexId(16),
      spanId: hexId(8),
      startTimeUnixNano: String(t),
      endTimeUnixNano: String(t + BigInt(Number(o.ms ?? 100)) * 1_000_000n),
      ...o,
      ms: undefined,
      attributes: Object.entries(attrs).map(([k, v]) =>
        kv(
          k,
          typeof v === 'number'
            ? Number.isInteger(v)
              ? { intValue: v }
              : { doubleValue: v }
            : str(String(v)),
        ),
      ),
    });
    const client = {
      resource: {
        attributes: [
          kv('service.name', str('cube-mini')),
          kv('mp.platform', str('wechat')),
          kv('os.name', str('ios')),
          kv('mp.base_library.version', str('3.4.1')),
          kv('mp.host.version', str('8.0.50')),
          kv('service.version', str('1.2.0')),
          kv('mp.fingerprint', str('fp1')),
        ],
      },
      scopeSpans: [
        {
          spans: [
            // upload.image via URL match, sampled OK request standing for 10
            span(
              { name: 'POST', kind: 3, ms: 200 },
              {
                'http.request.method': 'POST',
                'url.full': 'https://api.example.com/api/upload?sig=1',
                'http.response.status_code': 200,
                'network.connection.type': 'cell',
                'network.connection.subtype': '4g',
                'mp.sampling.weight': 10.0,
              },
            ),
            // upload.image 400 via mp.route_name, slow (> 3000 ms SLO)
            span(
              { name: 'POST upload.image', kind: 3, ms: 4000 },
              {
                'http.request.method': 'POST',
                'mp.route_name': 'upload.image',
                'http.response.status_code': 400,
                'error.type': '400',
                'app.error_code': 'E_IMG_FORMAT',
                'network.connection.type': 'wifi',
                'mp.sampling.weight': 1.0,
              },
            ),
            // aborted by the user: not counted against availability
            span(
              { name: 'GET', kind: 3 },
              {
                'http.request.method': 'GET',
                'url.full': 'https://api.example.com/images/abc',
                'error.type': 'abort',
              },
            ),
            // internal span: no layer, not in the cube
            span({ name: 'render', kind: 1 }, {}),
          ],
        },
      ],
    };
    const gateway = {
      resource: { attributes: [kv('service.name', str('kong'))] },
      scopeSpans: [
        {
          spans: [
            span(
              { name: 'kong', kind: 2 },
              {
                'http.route': '/upload',
                'http.method': 'POST',
                'http.status_code': 502,
                'http.client_ip': '120.24.78.68',
              },
            ),
          ],
        },
      ],
    };
    const backend = {
      resource: { attributes: [kv('service.name', str('image-service')), kv('host.name', str('node-7'))] },
      scopeSpans: [
        {
          spans: [
            span(
              { name: 'GET /images/:id', kind: 2, ms: 50 },
              {
                'http.route': '/images/:id',
                'http.request.method': 'GET',
                'http.response.status_code': 200,
                'mp.fingerprint': 'fp1',
              },
            ),
          ],
        },
      ],
    };
    const res = await post(
      `${emb.otlpUrl}/v1/traces`,
      JSON.stringify({ resourceSpans: [client, gateway, backend] }),
      {
        'content-type': 'application/json',
        'x-real-ip': '120.24.78.68',
      },
    );
    expect(res.status).toBe(200);

    const cube = await q<Record<string, unknown>>(
      `SELECT Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode, OsName, BaseLibraryVersion, HostVersion, AppVersion,
              Fingerprint, NetworkType, Carrier, Province, BackendNode,
              sum(Spans) AS spans, sum(Requests) AS requests, sum(Errors) AS errors, sum(AvailGood) AS good,
              sum(AvailTotal) AS total, sum(Slow) AS slow,
              quantilesTDigestWeightedMerge(0.5, 0.9, 0.95, 0.99)(LatencyMs) AS q
       FROM otel.mp_sli_1m WHERE ServiceName IN ('cube-mini', 'kong', 'image-service')
       GROUP BY ALL ORDER BY Layer, Route, HttpStatus`,
    );
    expect(cube).toHaveLength(5);
    const [backendRow, clientAbort, client200, client400, gatewayRow] = cube as Record<string, unknown>[];
    expect(backendRow).toMatchObject({
      Layer: 'backend',
      Route: 'download.image',
      BackendNode: 'node-7',
      HttpStatus: 200,
      Fingerprint: 'fp1',
      errors: 0,
      good: 1,
      total: 1,
    });
    expect(clientAbort).toMatchObject({
      Layer: 'client',
      Route: 'download.image',
      ErrorType: 'abort',
      errors: 1,
      good: 0,
      total: 0,
    });
    expect(client200).toMatchObject({
      Layer: 'client',
      Route: 'upload.image',
      HttpStatus: 200,
      OsName: 'ios',
      BaseLibraryVersion: '3.4.1',
      HostVersion: '8.0.50',
      AppVersion: '1.2.0',
      Fingerprint: 'fp1',
      NetworkType: '4g',
      Carrier: 'other',
      Province: '广东省',
      spans: '1',
      requests: 10,
      errors: 0,
      good: 10,
      total: 10,
      slow: 0,
    });
    expect(client400).toMatchObject({
      Route: 'upload.image',
      HttpStatus: 400,
      ErrorType: '400',
      AppErrorCode: 'E_IMG_FORMAT',
      NetworkType: 'wifi',
      requests: 1,
      errors: 1,
      good: 0,
      total: 1,
      slow: 1,
    });
    expect((client400?.q as number[] | undefined)?.[0]).toBeCloseTo(4000, 0);
    expect(gatewayRow).toMatchObject({
      Layer: 'gateway',
      Route: 'upload.image',
      HttpStatus: 502,
      Province: '广东省',
      errors: 1,
    });

    const hourly = await q<{ requests: number; errors: number }>(
      "SELECT sum(Requests) AS requests, sum(Errors) AS errors FROM otel.mp_sli_1h WHERE ServiceName = 'cube-mini'",
    );
    expect(hourly).toEqual([{ requests: 12, errors: 2 }]);
    const slim = await q<Record<string, unknown>>(
      "SELECT Layer, Route, HttpStatus, sum(Requests) AS requests, sum(Errors) AS errors FROM otel.mp_sli_route_1m WHERE ServiceName = 'cube-mini' GROUP BY ALL ORDER BY Route, HttpStatus",
    );
    expect(slim).toEqual([
      { Layer: 'client', Route: 'download.image', HttpStatus: 0, requests: 1, errors: 1 },
      { Layer: 'client', Route: 'upload.image', HttpStatus: 200, requests: 10, errors: 0 },
      { Layer: 'client', Route: 'upload.image', HttpStatus: 400, requests: 1, errors: 1 },
    ]);
    const geo = await q(
      "SELECT province_en, lat > 0 AS ok FROM otel.mp_geo_province WHERE province = '广东省'",
    );
    expect(geo).toEqual([{ province_en: 'Guangdong', ok: 1 }]);
  });
});

describe('persistence', () => {
  it('a restart on the same data directory keeps the data and re-applies nothing', async () => {
    const before = await q<{ n: string }>('SELECT count() AS n FROM otel.otel_traces');
    expect(Number(before[0]?.n)).toBeGreaterThan(0);
    await emb.close();
    emb = await embedded({ dataDir, geo: true });
    expect(emb.migrations.applied).toEqual([]);
    expect(await q('SELECT count() AS n FROM otel.otel_traces')).toEqual(before);
    const cube = await q<{ n: number }>('SELECT sum(Requests) AS n FROM otel.mp_sli_1m');
    expect(cube[0]?.n).toBeGreaterThan(0);
  });
});
