// The dashboards, as code. Every query reads the schema in clickhouse/migrations: the SLI cubes
// (mp_sli_route_1m: per minute × layer × route × status; mp_sli_1m: + fingerprint / geo dimensions;
// mp_sli_1h: hourly rollup), mp_errors_1m (client exceptions), mp_routes (the catalog), and the raw
// OpenTelemetry tables where a panel needs per-request detail (IPs, user agents, traces). Raw-span
// queries derive layer, route, status and client IP with the cube's own expressions (@mp-otel/contracts).
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { type Catalog, latencySql, spanSql } from '@mp-otel/contracts';
import { buildDashboard, type DashboardSpec, type VariableSpec } from './panels.js';
import { variableIn as vin, variableText as vtext } from './query.js';

/** The 400 ratio p = n400 / (n200 + n400), with 2xx as "200" (uploads answer 201). */
export const P400 = `sumIf(Requests, HttpStatus = 400) / nullIf(sumIf(Requests, HttpStatus = 400 OR (HttpStatus >= 200 AND HttpStatus < 300)), 0)`;
const P99 = latencySql(0.99);
const P50 = latencySql(0.5);
const P90 = latencySql(0.9);
const ERR_RATE = 'sum(Errors) / nullIf(sum(Requests), 0)';
const AVAIL = 'sum(AvailGood) / nullIf(sum(AvailTotal), 0)';
/** The cube's derivations over a raw span, on the datasource's default database. */
const SPAN = spanSql();
const RAW_ROUTE = SPAN.route;
const CLIENT_IP = SPAN.clientIp;
/** Client spans of a mini-program (the cube's client layer). */
const CLIENT_SPANS = `${SPAN.layer} = 'client'`;
const UA = `multiIf(SpanAttributes['user_agent.original'] != '', SpanAttributes['user_agent.original'], SpanAttributes['http.user_agent'] != '', SpanAttributes['http.user_agent'], '')`;
const BOT_UA = `match(lower(ua), 'bot|spider|crawl|slurp|curl|wget|python|go-http|java/|scan|nmap|sqlmap|nikto|masscan|zgrab|headless')`;
/** Server spans at the edge: kong when present, else the backends' server spans. */
const EDGE_SPANS = `SpanKind = 'Server'`;

// ── template variables (route from the catalog table, the rest from the data) ──
const dim = (col: string, layer = 'client') =>
  `SELECT DISTINCT ${col} FROM mp_sli_1h WHERE Minute >= toStartOfHour($__fromTime) AND Minute <= $__toTime AND Layer = '${layer}' AND ${col} != '' ORDER BY ${col}`;
const V = {
  route: {
    name: 'route',
    label: 'Route',
    sql: 'SELECT name FROM mp_routes ORDER BY name',
    multi: true,
  } as VariableSpec,
  platform: { name: 'platform', label: 'Platform', sql: dim('Platform'), multi: true } as VariableSpec,
  os: { name: 'os', label: 'OS', sql: dim('OsName'), multi: true } as VariableSpec,
  base_library: {
    name: 'base_library',
    label: 'Base library',
    sql: dim('BaseLibraryVersion'),
    multi: true,
  } as VariableSpec,
  host_version: {
    name: 'host_version',
    label: 'Host (WeChat) version',
    sql: dim('HostVersion'),
    multi: true,
  } as VariableSpec,
  app_version: {
    name: 'app_version',
    label: 'App version',
    sql: dim('AppVersion'),
    multi: true,
  } as VariableSpec,
  carrier: { name: 'carrier', label: 'Carrier', sql: dim('Carrier', 'backend'), multi: true } as VariableSpec,
  province: {
    name: 'province',
    label: 'Province',
    sql: dim('Province', 'backend'),
    multi: true,
  } as VariableSpec,
};
const ROUTE_FILTER = vin('Route', 'route');
const CLIENT_FILTER = [
  ROUTE_FILTER,
  vin('Platform', 'platform'),
  vin('OsName', 'os'),
  vin('BaseLibraryVersion', 'base_library'),
  vin('HostVersion', 'host_version'),
  vin('AppVersion', 'app_version'),
].join(' AND ');
const CLIENT_VARS = [V.route, V.platform, V.os, V.base_library, V.host_version, V.app_version];
const GEO_FILTER = `${vin('Carrier', 'carrier')} AND ${vin('Province', 'province')}`;

export function dashboardSpecs(catalog: Catalog): DashboardSpec[] {
  const firstRoute = catalog.routes[0]?.name ?? '';
  const oneRoute: VariableSpec = {
    name: 'route',
    label: 'Route',
    sql: 'SELECT name FROM mp_routes ORDER BY name',
    value: firstRoute,
  };

  const overview: DashboardSpec = {
    uid: 'mp-overview',
    title: 'Mini-program overview',
    description:
      'The last 15 minutes at a glance (QPS, UV, slow routes, errors, threshold-coloured), and the long-term trend.',
    tags: ['overview'],
    variables: [V.route],
    panels: [
      {
        kind: 'stat',
        title: 'QPS (15 min)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        unit: 'reqps',
        sql: `SELECT sum(Requests) / greatest(1, toUInt32($__toTime) - toUInt32($__fromTime)) AS qps FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER}`,
      },
      {
        kind: 'stat',
        title: 'UV (15 min, devices)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        // the SDK's persistent anonymous device.id; sessions only for clients that send none
        sql: `SELECT uniqCombined(if(ResourceAttributes['device.id'] != '', ResourceAttributes['device.id'], ResourceAttributes['session.id'])) AS uv FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${CLIENT_SPANS}`,
      },
      {
        kind: 'stat',
        title: 'Slow routes (15 min, > 5% over SLO latency)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        thresholds: [[1, 'red']],
        sql: `SELECT countIf(slow / req > 0.05) AS slow_routes FROM (SELECT Route, sum(Slow) AS slow, sum(Requests) AS req FROM mp_sli_route_1m WHERE Layer = 'client' AND Route != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY Route)`,
      },
      {
        kind: 'stat',
        title: 'Errors (15 min)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        thresholds: [
          [1, 'orange'],
          [100, 'red'],
        ],
        sql: `SELECT sum(Errors) AS errors FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER}`,
      },
      {
        kind: 'stat',
        title: 'Error rate (15 min)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        unit: 'percentunit',
        thresholds: [
          [0.005, 'orange'],
          [0.05, 'red'],
        ],
        sql: `SELECT ${ERR_RATE} AS error_rate FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER}`,
      },
      {
        kind: 'stat',
        title: '400 ratio (15 min)',
        timeFrom: '15m',
        w: 4,
        h: 5,
        unit: 'percentunit',
        thresholds: [[0.005, 'red']],
        sql: `SELECT ${P400} AS p400 FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER}`,
      },
      {
        kind: 'table',
        title: 'Routes (15 min)',
        timeFrom: '15m',
        w: 24,
        h: 7,
        thresholds: [[0.005, 'red']],
        sql: `SELECT Route AS route, sum(Requests) AS requests, ${ERR_RATE} AS error_rate, ${P400} AS p400, sum(Slow) / nullIf(sum(Requests), 0) AS slow_ratio, ${P99} AS p99_ms
FROM mp_sli_route_1m WHERE Layer = 'client' AND Route != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER}
GROUP BY Route ORDER BY error_rate DESC, requests DESC`,
      },
      {
        kind: 'timeseries',
        title: 'Requests per minute by route',
        unit: 'short',
        sql: `SELECT $__timeInterval(Minute) AS time, Route, sum(Requests) AS requests FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY time, Route ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'Errors by route',
        unit: 'short',
        sql: `SELECT $__timeInterval(Minute) AS time, Route, sum(Errors) AS errors FROM mp_sli_route_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY time, Route ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'Long-term trend (7 days, hourly)',
        timeFrom: '7d',
        w: 24,
        unit: 'short',
        sql: `SELECT Minute AS time, sum(Requests) AS requests, sum(Errors) AS errors, sum(Slow) AS slow FROM mp_sli_1h WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY time ORDER BY time`,
      },
    ],
  };

  const trend: DashboardSpec = {
    uid: 'mp-trend',
    title: 'Long-term trend',
    description:
      'Week / month / year views from the hourly rollup, with release markers where service.version changes.',
    tags: ['trend'],
    from: 'now-30d',
    variables: [V.route, V.app_version],
    annotations: [
      {
        name: 'Releases (service.version first seen)',
        sql: `SELECT time, concat('release ', AppVersion) AS text, 'release' AS tags FROM (SELECT AppVersion, min(Minute) AS time FROM mp_sli_1h WHERE Layer = 'client' AND AppVersion != '' GROUP BY AppVersion) WHERE $__timeFilter(time) ORDER BY time`,
      },
    ],
    panels: [
      {
        kind: 'table',
        title: 'This week / month / year against the one before',
        w: 24,
        h: 6,
        sql: `SELECT p.1 AS period,
  sumIf(Requests, Minute > $__toTime - toIntervalDay(p.2)) AS requests,
  sumIf(Requests, Minute > $__toTime - toIntervalDay(2 * p.2) AND Minute <= $__toTime - toIntervalDay(p.2)) AS requests_before,
  sumIf(Errors, Minute > $__toTime - toIntervalDay(p.2)) / nullIf(requests, 0) AS error_rate,
  sumIf(Errors, Minute > $__toTime - toIntervalDay(2 * p.2) AND Minute <= $__toTime - toIntervalDay(p.2)) / nullIf(requests_before, 0) AS error_rate_before
FROM mp_sli_1h ARRAY JOIN [('week', 7), ('month', 30), ('year', 365)] AS p
WHERE Layer = 'client' AND Minute > $__toTime - INTERVAL 730 DAY AND Minute <= $__toTime AND ${ROUTE_FILTER} AND ${vin('AppVersion', 'app_version')}
GROUP BY p ORDER BY p.2`,
      },
      {
        kind: 'timeseries',
        title: 'Requests by app version',
        unit: 'short',
        sql: `SELECT toStartOfInterval(Minute, INTERVAL greatest($__interval_s, 3600) second) AS time, AppVersion, sum(Requests) AS requests FROM mp_sli_1h WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} AND ${vin('AppVersion', 'app_version')} GROUP BY time, AppVersion ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'Availability',
        unit: 'percentunit',
        sql: `SELECT toStartOfInterval(Minute, INTERVAL greatest($__interval_s, 3600) second) AS time, Route, ${AVAIL} AS availability FROM mp_sli_1h WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} AND ${vin('AppVersion', 'app_version')} GROUP BY time, Route ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'P99 latency',
        unit: 'ms',
        w: 24,
        sql: `SELECT toStartOfInterval(Minute, INTERVAL greatest($__interval_s, 3600) second) AS time, Route, ${P99} AS p99_ms FROM mp_sli_1h WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} AND ${vin('AppVersion', 'app_version')} GROUP BY time, Route ORDER BY time`,
      },
    ],
  };

  const codes: DashboardSpec = {
    uid: 'mp-code-errors',
    title: 'Code errors',
    description:
      'From the code distribution down to routes and fingerprints; p = n400 / (n200 + n400) against the 0.5% line.',
    tags: ['errors'],
    variables: CLIENT_VARS,
    panels: [
      {
        kind: 'piechart',
        title: 'HTTP status distribution (client)',
        w: 8,
        sql: `SELECT toString(HttpStatus) AS status, sum(Requests) AS requests FROM mp_sli_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${CLIENT_FILTER} GROUP BY status ORDER BY requests DESC`,
      },
      {
        kind: 'timeseries',
        title: '400 ratio p = n400 / (n200 + n400) by route',
        w: 16,
        unit: 'percentunit',
        thresholds: [[0.005, 'red']],
        thresholdLines: true,
        sql: `SELECT $__timeInterval(Minute) AS time, Route, ${P400} AS p400 FROM mp_sli_1m WHERE Layer = 'client' AND Route != '' AND $__timeFilter(Minute) AND ${CLIENT_FILTER} GROUP BY time, Route ORDER BY time`,
      },
      {
        kind: 'table',
        title: 'Codes by route',
        sql: `SELECT Route AS route, HttpStatus AS status, ErrorType AS error_type, sum(Requests) AS requests, requests / sum(requests) OVER (PARTITION BY Route) AS share FROM mp_sli_1m WHERE Layer = 'client' AND $__timeFilter(Minute) AND ${CLIENT_FILTER} GROUP BY Route, HttpStatus, ErrorType ORDER BY route, requests DESC`,
      },
      {
        kind: 'table',
        title: 'Business error codes (app.error_code)',
        sql: `SELECT Layer AS layer, Route AS route, AppErrorCode AS code, sum(Requests) AS requests FROM mp_sli_1m WHERE AppErrorCode != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY Layer, Route, AppErrorCode ORDER BY requests DESC LIMIT 50`,
      },
      {
        kind: 'table',
        title: '400 ratio by fingerprint dimensions',
        w: 24,
        thresholds: [[0.005, 'red']],
        sql: `SELECT Route AS route, OsName AS os, BaseLibraryVersion AS base_library, HostVersion AS host_version, AppVersion AS app_version, sumIf(Requests, HttpStatus = 400) AS n400, ${P400} AS p400
FROM mp_sli_1m WHERE Layer = 'client' AND Route != '' AND $__timeFilter(Minute) AND ${CLIENT_FILTER}
GROUP BY Route, OsName, BaseLibraryVersion, HostVersion, AppVersion HAVING n400 > 0 ORDER BY n400 DESC, p400 DESC LIMIT 50`,
      },
    ],
  };

  const slow: DashboardSpec = {
    uid: 'mp-slow-routes',
    title: 'Slow-route risk',
    description:
      'Top 10 slow routes; chronic slowness (most minutes slow, and slow last week) told apart from spikes.',
    tags: ['latency'],
    variables: [V.route],
    panels: [
      {
        kind: 'table',
        title: 'Top 10 slow routes',
        w: 24,
        sql: `SELECT Layer AS layer, Route AS route, sum(req) AS requests, sum(slow) / nullIf(requests, 0) AS slow_ratio,
  countIf(slow / req > 0.05) / count() AS slow_minute_share, max(slow / req) AS worst_minute_slow_ratio,
  any(b.base_slow_ratio) AS last_week_slow_ratio, max(p99) AS worst_minute_p99_ms,
  multiIf(slow_ratio < 0.01, 'ok', slow_minute_share >= 0.5 AND last_week_slow_ratio >= 0.05, 'chronic', slow_minute_share >= 0.5, 'sustained (new)', 'spike') AS kind
FROM (SELECT Layer, Route, Minute, sum(Slow) AS slow, sum(Requests) AS req, ${P99} AS p99 FROM mp_sli_route_1m WHERE Route != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY Layer, Route, Minute) AS m
LEFT JOIN (SELECT Layer, Route, sum(Slow) / nullIf(sum(Requests), 0) AS base_slow_ratio FROM mp_sli_route_1m WHERE Route != '' AND Minute >= $__fromTime - INTERVAL 7 DAY AND Minute < $__fromTime GROUP BY Layer, Route) AS b ON b.Layer = m.Layer AND b.Route = m.Route
GROUP BY Layer, Route ORDER BY slow_ratio DESC, worst_minute_p99_ms DESC LIMIT 10`,
      },
      {
        kind: 'timeseries',
        title: 'P99 by route (client)',
        unit: 'ms',
        sql: `SELECT $__timeInterval(Minute) AS time, Route, ${P99} AS p99_ms FROM mp_sli_route_1m WHERE Layer = 'client' AND Route != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY time, Route ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'Slow ratio by route and layer',
        unit: 'percentunit',
        sql: `SELECT $__timeInterval(Minute) AS time, concat(Route, ' ', Layer) AS series, sum(Slow) / nullIf(sum(Requests), 0) AS slow_ratio FROM mp_sli_route_1m WHERE Route != '' AND $__timeFilter(Minute) AND ${ROUTE_FILTER} GROUP BY time, series ORDER BY time`,
      },
    ],
  };

  const routeDetail: DashboardSpec = {
    uid: 'mp-route-detail',
    title: 'Route detail',
    description:
      'One route: P99, codes, user agents and client IPs, region and carrier, backend node health.',
    tags: ['route'],
    variables: [oneRoute, V.carrier, V.province],
    panels: [
      {
        kind: 'timeseries',
        title: 'Latency P50 / P90 / P99 (client)',
        unit: 'ms',
        sql: `SELECT $__timeInterval(Minute) AS time, ${P50} AS p50_ms, ${P90} AS p90_ms, ${P99} AS p99_ms FROM mp_sli_route_1m WHERE Layer = 'client' AND Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY time ORDER BY time`,
      },
      {
        kind: 'timeseries',
        title: 'Status codes (client)',
        sql: `SELECT $__timeInterval(Minute) AS time, if(HttpStatus = 0, ErrorType, toString(HttpStatus)) AS code, sum(Requests) AS requests FROM mp_sli_route_1m WHERE Layer = 'client' AND Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY time, code ORDER BY time`,
      },
      {
        kind: 'table',
        title: 'User agents',
        sql: `SELECT ${UA} AS ua, count() AS requests, countIf(${SPAN.status} >= 400) / requests AS error_rate, ${BOT_UA} AS bot_like
FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} AND ${RAW_ROUTE} = ${vtext('route')} GROUP BY ua ORDER BY requests DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'Client IPs',
        sql: `SELECT ${CLIENT_IP} AS ip, count() AS requests, requests / sum(requests) OVER () AS share, countIf(${SPAN.status} >= 400) / requests AS error_rate
FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} AND ${RAW_ROUTE} = ${vtext('route')} GROUP BY ip ORDER BY requests DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'By province',
        w: 8,
        sql: `SELECT Province AS province, sum(Requests) AS requests, ${ERR_RATE} AS error_rate, ${P99} AS p99_ms FROM mp_sli_1m WHERE Layer = 'backend' AND Route = ${vtext('route')} AND $__timeFilter(Minute) AND ${GEO_FILTER} GROUP BY Province ORDER BY requests DESC`,
      },
      {
        kind: 'table',
        title: 'By carrier',
        w: 8,
        sql: `SELECT Carrier AS carrier, sum(Requests) AS requests, ${ERR_RATE} AS error_rate, ${P99} AS p99_ms FROM mp_sli_1m WHERE Layer = 'backend' AND Route = ${vtext('route')} AND $__timeFilter(Minute) AND ${GEO_FILTER} GROUP BY Carrier ORDER BY requests DESC`,
      },
      {
        kind: 'table',
        title: 'Backend node health',
        w: 8,
        thresholds: [[0.01, 'red']],
        sql: `SELECT BackendNode AS node, sum(Requests) AS requests, ${ERR_RATE} AS error_rate, ${P99} AS p99_ms, max(DurationMaxMs) AS max_ms FROM mp_sli_1m WHERE Layer = 'backend' AND Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY BackendNode ORDER BY node`,
      },
      {
        kind: 'timeseries',
        title: 'P99 by backend node',
        unit: 'ms',
        w: 24,
        sql: `SELECT $__timeInterval(Minute) AS time, BackendNode, ${P99} AS p99_ms FROM mp_sli_1m WHERE Layer = 'backend' AND Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY time, BackendNode ORDER BY time`,
      },
    ],
  };

  const crawler: DashboardSpec = {
    uid: 'mp-crawler',
    title: 'Crawler analysis',
    description:
      'Abnormal concentration of user agents or client IPs, and probes of paths outside the catalog (scanners).',
    tags: ['security'],
    variables: [],
    panels: [
      {
        kind: 'stat',
        title: 'Share of requests from the top 3 IPs',
        w: 6,
        h: 5,
        unit: 'percentunit',
        thresholds: [
          [0.2, 'orange'],
          [0.5, 'red'],
        ],
        sql: `SELECT arraySum(arraySlice(arrayReverseSort(groupArray(c)), 1, 3)) / nullIf(sum(c), 0) AS top3_share FROM (SELECT ${CLIENT_IP} AS ip, count() AS c FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} AND ip != '' GROUP BY ip)`,
      },
      {
        kind: 'stat',
        title: 'Requests outside the catalog',
        w: 6,
        h: 5,
        thresholds: [[1, 'orange']],
        sql: `SELECT sum(Requests) AS unknown_route_requests FROM mp_sli_route_1m WHERE Layer IN ('gateway', 'backend') AND Route = '' AND $__timeFilter(Minute)`,
      },
      {
        kind: 'timeseries',
        title: 'Requests outside the catalog, by status',
        w: 12,
        h: 5,
        sql: `SELECT $__timeInterval(Minute) AS time, toString(HttpStatus) AS status, sum(Requests) AS requests FROM mp_sli_route_1m WHERE Layer IN ('gateway', 'backend') AND Route = '' AND $__timeFilter(Minute) GROUP BY time, status ORDER BY time`,
      },
      {
        kind: 'table',
        title: 'Client IP concentration',
        thresholds: [[0.1, 'red']],
        sql: `SELECT ${CLIENT_IP} AS ip, count() AS requests, requests / sum(requests) OVER () AS share, uniqExact(SpanAttributes['url.path']) AS paths, countIf(${SPAN.status} IN (401, 403, 404, 405)) / requests AS probe_ratio, any(${UA}) AS sample_ua
FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} AND ip != '' GROUP BY ip ORDER BY requests DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'User agents',
        sql: `SELECT ua, requests, share, ips, ${BOT_UA} AS bot_like FROM (SELECT ${UA} AS ua, count() AS requests, requests / sum(requests) OVER () AS share, uniqExact(${CLIENT_IP}) AS ips FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} GROUP BY ua) ORDER BY requests DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'Probed paths outside the catalog',
        w: 24,
        sql: `SELECT multiIf(SpanAttributes['url.path'] != '', SpanAttributes['url.path'], SpanAttributes['http.target'] != '', SpanAttributes['http.target'], path(SpanAttributes['http.url'])) AS path, count() AS requests, uniqExact(${CLIENT_IP}) AS ips, groupUniqArray(3)(${SPAN.status}) AS statuses
FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${EDGE_SPANS} AND ${RAW_ROUTE} = '' GROUP BY path ORDER BY requests DESC LIMIT 20`,
      },
    ],
  };

  const exceptions: DashboardSpec = {
    uid: 'mp-exceptions',
    title: 'Exceptions overview',
    description:
      'Client exceptions (OTLP log records, weighted by mp.error.count) by type, page and fingerprint.',
    tags: ['errors'],
    variables: [V.platform, V.os, V.base_library, V.app_version],
    panels: [
      {
        kind: 'timeseries',
        title: 'Exceptions per interval by type',
        w: 24,
        sql: `SELECT $__timeInterval(Minute) AS time, ExceptionType, sum(Errors) AS exceptions FROM mp_errors_1m WHERE $__timeFilter(Minute) AND ${vin('Platform', 'platform')} AND ${vin('OsName', 'os')} AND ${vin('BaseLibraryVersion', 'base_library')} AND ${vin('AppVersion', 'app_version')} GROUP BY time, ExceptionType ORDER BY time`,
      },
      {
        kind: 'table',
        title: 'Top exceptions',
        sql: `SELECT ExceptionType AS type, any(SampleMessage) AS sample_message, sum(Errors) AS exceptions, sum(Records) AS records, uniqExact(Fingerprint) AS fingerprints, groupUniqArray(5)(PageRoute) AS pages FROM mp_errors_1m WHERE $__timeFilter(Minute) AND ${vin('Platform', 'platform')} AND ${vin('OsName', 'os')} AND ${vin('BaseLibraryVersion', 'base_library')} AND ${vin('AppVersion', 'app_version')} GROUP BY ExceptionType ORDER BY exceptions DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'Exceptions by OS and base library',
        sql: `SELECT OsName AS os, BaseLibraryVersion AS base_library, AppVersion AS app_version, sum(Errors) AS exceptions FROM mp_errors_1m WHERE $__timeFilter(Minute) AND ${vin('Platform', 'platform')} AND ${vin('OsName', 'os')} AND ${vin('BaseLibraryVersion', 'base_library')} AND ${vin('AppVersion', 'app_version')} GROUP BY os, base_library, app_version ORDER BY exceptions DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'Top errors by location (symbolicated)',
        w: 24,
        // where each error was thrown, in original sources once its release's maps are uploaded
        // (mp_symbolicated_stacks, filled by @mp-otel/sourcemaps); the minified first frame until then
        sql: `SELECT type, any(message) AS sample_message, if(top != '', top, frame) AS location, sum(errors) AS exceptions, max(top != '') AS symbolicated
FROM (SELECT ServiceName, ResourceAttributes['service.version'] AS release, cityHash64(LogAttributes['exception.stacktrace']) AS hash, LogAttributes['exception.type'] AS type, LogAttributes['exception.message'] AS message, trimBoth(arrayFirst(x -> match(x, ':[0-9]+:[0-9]+'), splitByChar('\\n', LogAttributes['exception.stacktrace']))) AS frame, if(toFloat64OrZero(LogAttributes['mp.error.count']) > 0, toFloat64OrZero(LogAttributes['mp.error.count']), 1.0) AS errors
  FROM otel_logs WHERE $__timeFilter(Timestamp) AND (EventName = 'exception' OR LogAttributes['event.name'] = 'exception' OR LogAttributes['exception.type'] != '') AND ${vin("ResourceAttributes['mp.platform']", 'platform')} AND ${vin("ResourceAttributes['os.name']", 'os')} AND ${vin("ResourceAttributes['mp.base_library.version']", 'base_library')} AND ${vin("ResourceAttributes['service.version']", 'app_version')}) AS l
LEFT JOIN (SELECT ServiceName, Release, StackHash, argMax(TopFrame, SymbolicatedAt) AS top FROM mp_symbolicated_stacks GROUP BY ServiceName, Release, StackHash) AS s
  ON s.ServiceName = l.ServiceName AND s.Release = l.release AND s.StackHash = l.hash
GROUP BY type, location ORDER BY exceptions DESC LIMIT 20`,
      },
      {
        kind: 'table',
        title: 'Latest exceptions',
        w: 24,
        sql: `SELECT Timestamp AS time, ServiceName AS service, LogAttributes['exception.type'] AS type, LogAttributes['exception.message'] AS message, LogAttributes['mp.page.route'] AS page, ResourceAttributes['os.name'] AS os, ResourceAttributes['mp.base_library.version'] AS base_library, TraceId AS trace_id
FROM otel_logs WHERE $__timeFilter(Timestamp) AND (EventName = 'exception' OR LogAttributes['event.name'] = 'exception' OR LogAttributes['exception.type'] != '') ORDER BY Timestamp DESC LIMIT 100`,
      },
    ],
  };

  const traces: DashboardSpec = {
    uid: 'mp-traces',
    title: 'Trace explorer',
    description:
      'Search client requests by trace id, route, status and fingerprint; open one in the trace view.',
    tags: ['traces'],
    from: 'now-1h',
    variables: [
      { name: 'trace_id', label: 'Trace id', value: '' },
      V.route,
      {
        name: 'status',
        label: 'HTTP status',
        sql: `SELECT DISTINCT toString(HttpStatus) FROM mp_sli_1h WHERE Minute >= toStartOfHour($__fromTime) AND Minute <= $__toTime AND Layer = 'client' ORDER BY 1`,
        multi: true,
      },
      { name: 'fingerprint', label: 'Fingerprint', value: '' },
    ],
    panels: [
      {
        kind: 'table',
        title: 'Client requests',
        w: 24,
        sql: `SELECT Timestamp AS time, TraceId AS trace_id, ${RAW_ROUTE} AS route, ${SPAN.status} AS status, SpanAttributes['error.type'] AS error_type, Duration / 1e6 AS duration_ms, ResourceAttributes['mp.fingerprint'] AS fingerprint, ResourceAttributes['os.name'] AS os, ResourceAttributes['mp.base_library.version'] AS base_library
FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${CLIENT_SPANS}
  AND (${vtext('trace_id')} = '' OR TraceId = ${vtext('trace_id')})
  AND (${vtext('fingerprint')} = '' OR ResourceAttributes['mp.fingerprint'] = ${vtext('fingerprint')})
  AND ${vin(RAW_ROUTE, 'route')}
  AND ${vin(`toString(${SPAN.status})`, 'status')}
ORDER BY Timestamp DESC LIMIT 200`,
      },
      {
        kind: 'traces',
        title: 'Trace',
        w: 24,
        h: 14,
        sql: `SELECT TraceId AS traceID, SpanId AS spanID, ParentSpanId AS parentSpanID, ServiceName AS serviceName, SpanName AS operationName, toUnixTimestamp64Milli(Timestamp) AS startTime, Duration / 1000000 AS duration,
  arrayMap(k -> map('key', k, 'value', SpanAttributes[k]), mapKeys(SpanAttributes)) AS tags,
  arrayMap(k -> map('key', k, 'value', ResourceAttributes[k]), mapKeys(ResourceAttributes)) AS serviceTags,
  SpanKind AS kind, StatusCode AS statusCode, StatusMessage AS statusMessage
FROM otel_traces
WHERE TraceId = ${vtext('trace_id')}
  AND Timestamp >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = ${vtext('trace_id')}) - INTERVAL 5 MINUTE
  AND Timestamp <= (SELECT max(End) FROM otel_traces_trace_id_ts WHERE TraceId = ${vtext('trace_id')}) + INTERVAL 5 MINUTE
ORDER BY startTime`,
      },
      {
        kind: 'table',
        title: 'Logs of the trace',
        w: 24,
        sql: `SELECT Timestamp AS time, ServiceName AS service, SeverityText AS level, Body AS body, LogAttributes AS attributes FROM otel_logs WHERE TraceId = ${vtext('trace_id')} AND $__timeFilter(Timestamp) ORDER BY Timestamp`,
      },
    ],
  };

  const image: DashboardSpec = {
    uid: 'mp-image',
    title: 'Image service',
    description:
      'Latency and success by size bucket: client view (request spans) and service view (mp.image.* histograms).',
    tags: ['image'],
    variables: [],
    panels: [
      {
        kind: 'table',
        title: 'Client transfers by size bucket',
        w: 24,
        sql: `SELECT route, multiIf(bytes = 0, 'unknown', bytes < 102400, '<100KB', bytes < 1048576, '100KB-1MB', bytes < 5242880, '1MB-5MB', '>=5MB') AS size_bucket,
  count() AS requests, countIf(status BETWEEN 200 AND 299) / requests AS success_ratio,
  quantileTDigest(0.5)(ms) AS p50_ms, quantileTDigest(0.9)(ms) AS p90_ms, quantileTDigest(0.99)(ms) AS p99_ms
FROM (SELECT ${RAW_ROUTE} AS route, toUInt64OrZero(if(SpanAttributes['mp.request.api'] = 'uploadFile', SpanAttributes['http.request.body.size'], SpanAttributes['http.response.body.size'])) AS bytes,
    ${SPAN.status} AS status, ${SPAN.durationMs} AS ms
  FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${CLIENT_SPANS} AND SpanAttributes['mp.request.api'] IN ('uploadFile', 'downloadFile'))
GROUP BY route, size_bucket ORDER BY route, min(bytes)`,
      },
      {
        kind: 'table',
        title: 'Service transfers by size bucket (mp.image.transfer.duration)',
        w: 24,
        sql: `SELECT direction, size_bucket, outcome, sum(n) AS transfers, sum(s) / nullIf(sum(n), 0) * 1000 AS mean_ms FROM (
  SELECT Attributes['mp.image.direction'] AS direction, Attributes['mp.image.size_bucket'] AS size_bucket, Attributes['mp.image.outcome'] AS outcome,
    toFloat64(if(any(AggregationTemporality) = 1, sum(Count), max(Count) - if(min(StartTimeUnix) >= $__fromTime, 0, min(Count)))) AS n,
    toFloat64(if(any(AggregationTemporality) = 1, sum(Sum), max(Sum) - if(min(StartTimeUnix) >= $__fromTime, 0, min(Sum)))) AS s
  FROM otel_metrics_histogram WHERE MetricName = 'mp.image.transfer.duration' AND $__timeFilter(TimeUnix)
  GROUP BY ServiceName, ResourceAttributes, Attributes, StartTimeUnix)
GROUP BY direction, size_bucket, outcome ORDER BY direction, size_bucket, outcome`,
      },
      {
        kind: 'timeseries',
        title: 'Client upload success ratio by size bucket',
        unit: 'percentunit',
        w: 24,
        sql: `SELECT $__timeInterval(Timestamp) AS time, multiIf(bytes < 102400, '<100KB', bytes < 1048576, '100KB-1MB', bytes < 5242880, '1MB-5MB', '>=5MB') AS size_bucket,
  countIf(status BETWEEN 200 AND 299) / count() AS success_ratio
FROM (SELECT Timestamp, toUInt64OrZero(SpanAttributes['http.request.body.size']) AS bytes, ${SPAN.status} AS status
  FROM otel_traces WHERE $__timeFilter(Timestamp) AND ${CLIENT_SPANS} AND SpanAttributes['mp.request.api'] = 'uploadFile')
WHERE bytes > 0 GROUP BY time, size_bucket ORDER BY time`,
      },
    ],
  };

  const slo: DashboardSpec = {
    uid: 'mp-slo',
    title: 'SLO',
    description:
      'Per catalog route: availability against the SLO, error budget remaining over the range, and burn rates (1h, 6h, 5m, 30m).',
    tags: ['slo'],
    from: 'now-30d',
    variables: [V.route],
    panels: [
      {
        kind: 'table',
        title: 'Error budget and burn rates',
        w: 24,
        thresholds: [[1, 'red']],
        sql: `SELECT r.name AS route, r.slo_availability AS target, sum(c.AvailGood) / nullIf(sum(c.AvailTotal), 0) AS availability,
  1 - (1 - availability) / (1 - target) AS budget_remaining,
  (1 - sumIf(c.AvailGood, c.Minute > $__toTime - INTERVAL 1 HOUR) / nullIf(sumIf(c.AvailTotal, c.Minute > $__toTime - INTERVAL 1 HOUR), 0)) / (1 - target) AS burn_1h,
  (1 - sumIf(c.AvailGood, c.Minute > $__toTime - INTERVAL 5 MINUTE) / nullIf(sumIf(c.AvailTotal, c.Minute > $__toTime - INTERVAL 5 MINUTE), 0)) / (1 - target) AS burn_5m,
  (1 - sumIf(c.AvailGood, c.Minute > $__toTime - INTERVAL 6 HOUR) / nullIf(sumIf(c.AvailTotal, c.Minute > $__toTime - INTERVAL 6 HOUR), 0)) / (1 - target) AS burn_6h,
  (1 - sumIf(c.AvailGood, c.Minute > $__toTime - INTERVAL 30 MINUTE) / nullIf(sumIf(c.AvailTotal, c.Minute > $__toTime - INTERVAL 30 MINUTE), 0)) / (1 - target) AS burn_30m
FROM mp_routes AS r LEFT JOIN mp_sli_route_1m AS c ON c.Route = r.name AND c.Layer = 'client' AND c.Minute >= $__fromTime AND c.Minute <= $__toTime
WHERE ${vin('r.name', 'route')}
GROUP BY r.name, r.slo_availability ORDER BY budget_remaining`,
      },
      {
        kind: 'timeseries',
        title: 'Burn rate per interval (1 = spending the budget exactly)',
        w: 24,
        thresholds: [
          [6, 'orange'],
          [14.4, 'red'],
        ],
        thresholdLines: true,
        sql: `SELECT $__timeInterval(c.Minute) AS time, c.Route AS route, (1 - sum(c.AvailGood) / nullIf(sum(c.AvailTotal), 0)) / (1 - any(r.slo_availability)) AS burn
FROM mp_sli_route_1m AS c INNER JOIN mp_routes AS r ON r.name = c.Route
WHERE c.Layer = 'client' AND $__timeFilter(c.Minute) AND ${vin('c.Route', 'route')} GROUP BY time, route ORDER BY time`,
      },
    ],
  };

  const path: DashboardSpec = {
    uid: 'mp-path',
    title: 'Client vs gateway vs backend',
    description:
      'One route along its path: where requests fail (client-only failures such as timeouts never reach the backend).',
    tags: ['route'],
    variables: [oneRoute],
    panels: [
      {
        kind: 'table',
        title: 'Per layer',
        w: 24,
        h: 6,
        sql: `SELECT Layer AS layer, sum(Requests) AS requests, sum(Errors) AS errors, ${ERR_RATE} AS error_rate, ${AVAIL} AS availability, ${P99} AS p99_ms
FROM mp_sli_route_1m WHERE Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY Layer ORDER BY indexOf(['client', 'gateway', 'backend'], Layer)`,
      },
      {
        kind: 'timeseries',
        title: 'Error rate by layer',
        unit: 'percentunit',
        sql: `SELECT $__timeInterval(Minute) AS time, Layer, ${ERR_RATE} AS error_rate FROM mp_sli_route_1m WHERE Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY time, Layer ORDER BY time`,
      },
      {
        kind: 'table',
        title: 'Outcomes by layer',
        sql: `SELECT if(HttpStatus = 0, if(ErrorType = '', 'none', ErrorType), toString(HttpStatus)) AS outcome, sumIf(Requests, Layer = 'client') AS client, sumIf(Requests, Layer = 'gateway') AS gateway, sumIf(Requests, Layer = 'backend') AS backend
FROM mp_sli_route_1m WHERE Route = ${vtext('route')} AND $__timeFilter(Minute) GROUP BY outcome ORDER BY client + gateway + backend DESC`,
      },
    ],
  };

  return [overview, trend, codes, slow, routeDetail, crawler, exceptions, traces, image, slo, path];
}

export function buildDashboards(catalog: Catalog): dashboard.Dashboard[] {
  return dashboardSpecs(catalog).map(buildDashboard);
}
