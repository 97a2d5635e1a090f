// The cluster rendering executed, shard by shard, in chDB. There is no ClickHouse server, Keeper or second
// node here, so two shards are two databases of one chDB (shard_1, shard_2) and the rendered DDL runs with
// only what needs a cluster taken out: `ON CLUSTER mp` dropped, Replicated*MergeTree('/path', '{replica}', …)
// → *MergeTree(…), and each Distributed table → a Merge table over both shards' <t>_local (a Distributed
// read is the union of the shards; its partial aggregation merges the same states). Everything else — the
// local tables, the materialized views on them, the catalog subqueries, the geo dictionary, the hourly and
// route rollups — is the cluster DDL as printed. Rows are routed to shards by the rendered sharding key
// (key % 2, as Distributed does with two shards of weight 1). Then the readers' questions, asked through the
// "Distributed" names, must equal a single node fed the same rows.
import { loadCatalog } from '@mp-otel/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCatalogPath, loadCatalogIntoClickHouse, migrate, planMigrations } from '../src/index.js';
import { embedded } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
const SHARDS = ['shard_1', 'shard_2'];
const plan = planMigrations({ cluster: 'mp', database: 'otel' });
const statements = [...plan.bookkeeping, ...plan.migrations.flatMap((m) => m.statements)];
const keyOf = (t: string) =>
  new RegExp(`ENGINE = Distributed\\(mp, otel, ${t}_local, ([\\s\\S]*)\\)$`).exec(
    statements.find((s) => s.includes(`Distributed(mp, otel, ${t}_local,`)) ?? '',
  )?.[1];

/** One cluster statement as it runs on one shard of the simulation. */
function onShard(stmt: string, shard: string): string {
  return stmt
    .replace(/ ON CLUSTER mp\b/g, '')
    .replace(/Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?/g, '$1(')
    .replace(
      /ENGINE = Distributed\(mp, otel, (\w+), [\s\S]*\)$/,
      (_m, local: string) => `ENGINE = Merge(REGEXP('^shard_[0-9]+$'), '^${local}$')`,
    )
    .replace(/\bDATABASE IF NOT EXISTS otel\b/, `DATABASE IF NOT EXISTS ${shard}`)
    .replace(/\botel\./g, `${shard}.`);
}

const rows = async <T>(query: string) => (await emb.client.query({ query, format: 'JSONEachRow' })).json<T>();

beforeAll(async () => {
  emb = await embedded({ catalog: false });
  const cat = loadCatalog(defaultCatalogPath());
  await migrate(emb.client, { database: 'single' });
  await loadCatalogIntoClickHouse(emb.client, cat, 'single');
  for (const shard of SHARDS) {
    for (const s of statements)
      if (!s.startsWith('INSERT')) await emb.client.command({ query: onShard(s, shard) });
    await loadCatalogIntoClickHouse(emb.client, cat, shard); // replicated to every node on a cluster
  }
  for (const db of ['single', ...SHARDS])
    await emb.client.command({
      query: `INSERT INTO ${db}.mp_ip_geo VALUES (3221225984, 3221226239, 'China', 'Guangdong', 'Shenzhen', 'China Telecom', 'telecom'), (3325256704, 3325256959, 'China', 'Beijing', 'Beijing', 'China Unicom', 'unicom')`,
    });
  // 60 000 spans over 3 hours: client / gateway / backend layers, two catalog routes and an unknown one,
  // errors, slow requests, client addresses in the geo ranges, 4 spans per trace
  await emb.client.command({
    query: `INSERT INTO single.otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
      SELECT
        toDateTime64('2026-12-01 00:00:00', 9) + toIntervalMillisecond(number * 180) AS Timestamp,
        lower(hex(cityHash64(intDiv(number, 4), 'trace'))) || lower(hex(cityHash64(intDiv(number, 4), 'x'))) AS TraceId,
        lower(hex(cityHash64(number, 'span'))) AS SpanId,
        multiIf(number % 4 = 1, 'kong', 'GET') AS SpanName,
        multiIf(number % 4 IN (0, 3), 'Client', 'Server') AS SpanKind,
        multiIf(number % 4 = 0, 'image-miniprogram', number % 4 = 1, 'kong', 'image-service') AS ServiceName,
        if(number % 4 = 0, map('mp.platform', 'wechat', 'os.name', if(number % 8 = 0, 'ios', 'android'), 'service.version', '1.0.' || toString(number % 3)), map('host.name', 'node-' || toString(number % 5))) AS ResourceAttributes,
        map('http.request.method', if(number % 7 = 0, 'POST', 'GET'),
            'http.route', multiIf(number % 7 = 0, '/upload', number % 11 = 0, '/other/{x}', '/images/{id}'),
            'http.response.status_code', toString(multiIf(number % 23 = 0, 500, number % 31 = 0, 404, 200)),
            'client.address', if(number % 3 = 0, '192.0.2.' || toString(number % 200), '198.51.100.' || toString(number % 200)),
            'mp.sampling.weight', if(number % 9 = 0, '10', '1')) AS SpanAttributes,
        toUInt64((20 + (number * 37) % 1500 + if(number % 97 = 0, 5000, 0)) * 1000000) AS Duration,
        if(number % 29 = 0, 'Error', 'Unset') AS StatusCode
      FROM numbers(60000)`,
  });
  await emb.client.command({
    query: `INSERT INTO single.otel_logs (Timestamp, TraceId, ServiceName, ResourceAttributes, LogAttributes, EventName, Body)
      SELECT toDateTime64('2026-12-01 00:00:00', 9) + toIntervalSecond(number * 3),
        if(number % 2 = 0, lower(hex(cityHash64(number, 't'))) || lower(hex(cityHash64(number, 'u'))), ''),
        'image-miniprogram', map('mp.platform', 'wechat', 'service.version', '1.0.1'),
        map('exception.type', if(number % 3 = 0, 'TypeError', 'RangeError'), 'exception.message', 'boom', 'mp.page.route', 'pages/index', 'mp.error.count', toString(1 + number % 4)),
        'exception', 'boom'
      FROM numbers(3000)`,
  });
  // route the same rows to the shards with the rendered sharding keys (two shards, weight 1 each)
  for (const [t, cols] of [
    ['otel_traces', '*'],
    ['otel_logs', '* EXCEPT TimestampTime'],
  ] as const) {
    const key = keyOf(t);
    expect(key, t).toBeTruthy();
    for (const [i, shard] of SHARDS.entries()) {
      // rand64() in a key spreads rows without a trace id at random: the simulation makes it deterministic
      const k = (key as string).replace('rand64()', 'cityHash64(Timestamp)');
      await emb.client.command({
        query: `INSERT INTO ${shard}.${t}_local ${cols === '*' ? '' : `(${(await rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = 'single' AND table = '${t}' AND default_kind = '' ORDER BY position`)).map((c) => `\`${c.name}\``).join(', ')})`} SELECT ${cols} FROM single.${t} WHERE (${k}) % 2 = ${i}`,
      });
    }
  }
}, 300_000);
afterAll(async () => {
  await emb?.dispose();
});

describe('two shards (cluster DDL executed per shard) vs one node, same rows', () => {
  it('both shards took a share of the spans, and a trace lives on one shard (spans and trace-id index)', async () => {
    const per = await rows<{ s: string; n: string }>(
      `SELECT _database AS s, count() AS n FROM merge(REGEXP('^shard_[0-9]+$'), '^otel_traces_local$') GROUP BY s ORDER BY s`,
    );
    expect(per.map((r) => r.s)).toEqual(SHARDS);
    for (const r of per) expect(Number(r.n)).toBeGreaterThan(20_000);
    const spread = await rows<{ n: string }>(
      `SELECT count() AS n FROM (SELECT TraceId FROM merge(REGEXP('^shard_[0-9]+$'), '^otel_traces_local$') GROUP BY TraceId HAVING uniqExact(_database) > 1)`,
    );
    expect(Number(spread[0]?.n)).toBe(0);
    const index = await rows<{ n: string }>(
      `SELECT count() AS n FROM merge(REGEXP('^shard_[0-9]+$'), '^otel_traces_trace_id_ts_local$') AS i
       WHERE (i._database, i.TraceId) NOT IN (SELECT _database, TraceId FROM merge(REGEXP('^shard_[0-9]+$'), '^otel_traces_local$'))`,
    );
    expect(Number(index[0]?.n)).toBe(0);
  });

  const same = async (sql: (db: string) => string) => {
    const one = await rows<Record<string, unknown>>(sql('single'));
    const two = await rows<Record<string, unknown>>(sql('shard_1'));
    expect(one.length).toBeGreaterThan(0);
    expect(two).toEqual(one);
    return one;
  };

  it('raw reads through the Distributed names: counts, a trace by id, the trace-id index', async () => {
    await same((db) => `SELECT count() AS n, uniqExact(TraceId) AS t FROM ${db}.otel_traces`);
    const [t] = await rows<{ TraceId: string }>(
      'SELECT TraceId FROM single.otel_traces ORDER BY SpanId LIMIT 1',
    );
    await same(
      (db) =>
        `SELECT SpanId, SpanName, Duration FROM ${db}.otel_traces WHERE TraceId = '${t?.TraceId}' ORDER BY SpanId`,
    );
    await same(
      (db) =>
        `SELECT TraceId, min(Start) AS s, max(End) AS e FROM ${db}.otel_traces_trace_id_ts GROUP BY TraceId ORDER BY TraceId LIMIT 50`,
    );
  });

  it('the SLI cubes, aggregated per shard by their views and merged on read, equal one node’s', async () => {
    const measures =
      'sum(Spans) AS spans, sum(Requests) AS requests, sum(Errors) AS errors, sum(AvailGood) AS good, sum(AvailTotal) AS total, sum(Slow) AS slow, round(sum(DurationSumMs), 3) AS dur, max(DurationMaxMs) AS dmax';
    const route = await same(
      (db) =>
        `SELECT Layer, Route, HttpStatus, ErrorType, ${measures} FROM ${db}.mp_sli_route_1m GROUP BY Layer, Route, HttpStatus, ErrorType ORDER BY Layer, Route, HttpStatus, ErrorType`,
    );
    // the catalog subqueries and the slow threshold ran on each shard: routes are resolved, slow is counted
    expect(route.map((r) => r.Route)).toEqual(expect.arrayContaining(['download.image', 'upload.image']));
    expect(route.some((r) => Number(r.slow) > 0)).toBe(true);
    await same(
      (db) =>
        `SELECT toStartOfHour(Minute) AS h, Layer, Route, Platform, OsName, AppVersion, Carrier, Province, ${measures} FROM ${db}.mp_sli_1m GROUP BY h, Layer, Route, Platform, OsName, AppVersion, Carrier, Province ORDER BY h, Layer, Route, Platform, OsName, AppVersion, Carrier, Province`,
    );
    // geo dictionary on each shard
    const geo = await same(
      (db) =>
        `SELECT Province, Carrier, sum(Spans) AS n FROM ${db}.mp_sli_1m GROUP BY Province, Carrier ORDER BY Province, Carrier`,
    );
    expect(geo.map((r) => r.Province)).toEqual(expect.arrayContaining(['Guangdong', 'Beijing']));
    await same(
      (db) =>
        `SELECT Minute, Layer, Route, ${measures} FROM ${db}.mp_sli_1h GROUP BY Minute, Layer, Route ORDER BY Minute, Layer, Route`,
    );
    await same(
      (db) =>
        `SELECT ServiceName, ExceptionType, sum(Records) AS r, sum(Errors) AS e FROM ${db}.mp_errors_1m GROUP BY ServiceName, ExceptionType ORDER BY ServiceName, ExceptionType`,
    );
  });

  it('latency quantiles merged from per-shard t-digest states stay close to one node’s', async () => {
    const q = (db: string) =>
      rows<{ Route: string; p: number[] }>(
        `SELECT Route, quantilesTDigestWeightedMerge(0.5, 0.9, 0.95, 0.99)(LatencyMs) AS p FROM ${db}.mp_sli_route_1m WHERE Layer = 'backend' GROUP BY Route ORDER BY Route`,
      );
    const one = await q('single');
    const two = await q('shard_1');
    expect(two.map((r) => r.Route)).toEqual(one.map((r) => r.Route));
    for (const [i, r] of one.entries())
      for (const [k, v] of r.p.entries()) {
        const w = two[i]?.p[k] as number;
        expect(Math.abs(w - v) / v, `${r.Route} q${k}`).toBeLessThan(0.05);
      }
  });

  it('a non-aggregating read of a cube differs (why readers must GROUP BY): the same key has a row per shard', async () => {
    const one = await rows<{ n: string }>('SELECT count() AS n FROM single.mp_sli_route_1m FINAL');
    const two = await rows<{ n: string }>('SELECT count() AS n FROM shard_1.mp_sli_route_1m FINAL');
    expect(Number(two[0]?.n)).toBeGreaterThan(Number(one[0]?.n));
  });

  it('running the cluster DDL a second time changes nothing (every statement IF NOT EXISTS)', async () => {
    const snapshot = () =>
      rows<Record<string, unknown>>(
        `SELECT name, engine, create_table_query, total_rows FROM system.tables WHERE database = 'shard_1' ORDER BY name`,
      );
    const before = await snapshot();
    for (const s of statements)
      if (!s.startsWith('INSERT')) await emb.client.command({ query: onShard(s, 'shard_1') });
    expect(await snapshot()).toEqual(before);
    expect(before.length).toBeGreaterThan(20);
  });
});
