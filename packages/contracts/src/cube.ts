// The SLI cube's contract: which spans it counts and how (layer, route, status, error, weight, slow), its
// dimensions with the layers whose spans carry each, and its measures. The derivations are SQL expressions
// over one otel_traces row; the cube's materialized view (clickhouse/migrations/005_sli_cube.sql, through
// the {{span.*}} placeholders the migrator renders) and every raw-span query (dashboards, the report,
// diagnosis exemplars) use these same expressions, so a span gets the same route and the same slow verdict
// wherever it is looked at. The table's columns are ClickHouse's (the migration); a test keeps them equal
// to CUBE_COLUMNS.
import {
  ATTR_APP_ERROR_CODE,
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HOST_NAME,
  ATTR_HTTP_CLIENT_IP,
  ATTR_HTTP_METHOD,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_HTTP_STATUS_CODE,
  ATTR_HTTP_TARGET,
  ATTR_HTTP_URL,
  ATTR_MP_BASE_LIBRARY_VERSION,
  ATTR_MP_FINGERPRINT,
  ATTR_MP_HOST_VERSION,
  ATTR_MP_PLATFORM,
  ATTR_MP_ROUTE_NAME,
  ATTR_MP_SAMPLING_WEIGHT,
  ATTR_NETWORK_CONNECTION_SUBTYPE,
  ATTR_NETWORK_CONNECTION_TYPE,
  ATTR_OS_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  GATEWAY_SPAN_NAME,
} from './names.js';

/** Where a span was recorded: the mini-program, the API gateway (Kong), or a backend service. */
export type Layer = 'client' | 'gateway' | 'backend';
export const LAYERS: readonly Layer[] = ['client', 'gateway', 'backend'];

/** The latency quantiles the cube keeps (t-digest state in LatencyMs), in this order. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;
export type LatencyQuantile = (typeof LATENCY_QUANTILES)[number];

const span = (name: string) => `SpanAttributes['${name}']`;
const resource = (name: string) => `ResourceAttributes['${name}']`;
/** The first non-empty of several string expressions. */
const firstOf = (...exprs: string[]) =>
  exprs.length === 1
    ? (exprs[0] as string)
    : `multiIf(${exprs
        .slice(0, -1)
        .map((e) => `${e} != '', ${e}`)
        .join(', ')}, ${exprs[exprs.length - 1]})`;

/** Qualifies a table or dictionary name with a database, or leaves it to the connection's default. */
const qualify = (db: string | undefined, name: string) => (db ? `${db}.${name}` : name);

/**
 * The derivations over one otel_traces row, as self-contained ClickHouse expressions. `db` qualifies the
 * catalog table, the defaults view and the geo dictionary (omit it where the connection's default database
 * is the right one, as in Grafana panels).
 */
export function spanSql(db?: string) {
  const routes = qualify(db, 'mp_routes');
  const defaults = qualify(db, 'mp_defaults');
  const geoDict = qualify(db, 'mp_ip_geo_dict');
  // Longest path first, then name: the most specific catalog route wins, deterministically.
  const routeList = (col: string) =>
    `(SELECT groupArray(${col}) FROM (SELECT name, match_regex, slo_latency_ms FROM ${routes} ORDER BY length(path) DESC, name))`;
  const layer = `multiIf(SpanKind = 'Client' AND ${resource(ATTR_MP_PLATFORM)} != '', 'client', SpanKind = 'Server' AND SpanName = '${GATEWAY_SPAN_NAME}', 'gateway', SpanKind = 'Server', 'backend', '')`;
  const method = firstOf(span(ATTR_HTTP_REQUEST_METHOD), span(ATTR_HTTP_METHOD));
  // The request's path as the span says it: a route template, else the path of a full URL, else a path.
  const target = firstOf(
    span(ATTR_HTTP_ROUTE),
    `path(${span(ATTR_URL_FULL)})`,
    `path(${span(ATTR_HTTP_URL)})`,
    span(ATTR_URL_PATH),
    `path(concat('http://x', ${span(ATTR_HTTP_TARGET)}))`,
  );
  const route = `if(${span(ATTR_MP_ROUTE_NAME)} != '', ${span(ATTR_MP_ROUTE_NAME)}, arrayElement(${routeList('name')}, arrayFirstIndex(rx -> match(concat(${method}, ' ', ${target}), rx), ${routeList('match_regex')})))`;
  const status = `toUInt16OrZero(${firstOf(span(ATTR_HTTP_RESPONSE_STATUS_CODE), span(ATTR_HTTP_STATUS_CODE))})`;
  const errorType = span(ATTR_ERROR_TYPE);
  const isError = `(StatusCode = 'Error' OR ${status} >= 400 OR ${errorType} != '')`;
  // mp.sampling.weight estimates how many real requests a stored span stands for (default 1).
  const weight = `if(toFloat64OrZero(${span(ATTR_MP_SAMPLING_WEIGHT)}) > 0, toFloat64OrZero(${span(ATTR_MP_SAMPLING_WEIGHT)}), 1.0)`;
  const durationMs = '(Duration / 1e6)';
  // The route's SLO latency, else the default the migrations were rendered with (mp_defaults).
  const sloMs = `arrayElement(${routeList('slo_latency_ms')}, indexOf(${routeList('name')}, ${route}))`;
  const slowThresholdMs = `if(${sloMs} > 0, ${sloMs}, (SELECT default_slow_ms FROM ${defaults}))`;
  const isSlow = `(${durationMs} > ${slowThresholdMs})`;
  // User cancelled (error.type = abort): not a failure of the service, left out of availability.
  const countsForAvailability = `(${errorType} != 'abort')`;
  const clientIp = firstOf(
    span(ATTR_CLIENT_ADDRESS),
    resource(ATTR_CLIENT_ADDRESS),
    span(ATTR_HTTP_CLIENT_IP),
  );
  const geo = (field: 'province' | 'carrier') =>
    `if(toUInt32(toIPv4OrDefault(${clientIp})) = 0, '', dictGetOrDefault('${geoDict}', '${field}', toUInt64(0), toUInt32(toIPv4OrDefault(${clientIp})), ''))`;
  return {
    layer,
    method,
    target,
    route,
    status,
    errorType,
    appErrorCode: span(ATTR_APP_ERROR_CODE),
    isError,
    weight,
    durationMs,
    slowThresholdMs,
    isSlow,
    countsForAvailability,
    clientIp,
    province: geo('province'),
    carrier: geo('carrier'),
  };
}
export type SpanSql = ReturnType<typeof spanSql>;

/** A dimension of the cube: a column, the name people and scenarios use for it, and where it exists. */
export interface CubeDimension {
  column: string;
  /** telemetry attribute name (or, for derived dimensions, the name diagnosis reports: carrier, province) */
  attribute: string;
  /** the layers whose spans carry it (elsewhere the column is '') */
  layers: readonly Layer[];
  /** root-cause localization searches it */
  localize: boolean;
  /** its value for one otel_traces row of a layer that carries it (see dimensionSql) */
  sql: (s: SpanSql) => string;
}

/** A dimension's value for one otel_traces row: '' on spans of layers that do not carry it. */
export function dimensionSql(d: CubeDimension, s: SpanSql): string {
  return d.layers.length === LAYERS.length
    ? d.sql(s)
    : `if(${s.layer} IN (${d.layers.map((l) => `'${l}'`).join(', ')}), ${d.sql(s)}, '')`;
}

/**
 * The cube's dimensions (after Minute and Layer), in the table's column order. Keys: Route .. AppErrorCode
 * identify what failed; the rest say who it failed for (fingerprint, network, geo, node) and are searched by
 * localization in the layers whose spans carry them. The gateway (Kong) knows the client's IP only.
 */
export const CUBE_DIMENSIONS: readonly CubeDimension[] = [
  { column: 'Route', attribute: 'route', layers: LAYERS, localize: false, sql: (s) => s.route },
  {
    column: 'ServiceName',
    attribute: 'service.name',
    layers: LAYERS,
    localize: false,
    sql: () => 'ServiceName',
  },
  {
    column: 'HttpStatus',
    attribute: 'http.response.status_code',
    layers: LAYERS,
    localize: false,
    sql: (s) => s.status,
  },
  {
    column: 'ErrorType',
    attribute: ATTR_ERROR_TYPE,
    layers: LAYERS,
    localize: false,
    sql: (s) => s.errorType,
  },
  {
    column: 'AppErrorCode',
    attribute: ATTR_APP_ERROR_CODE,
    layers: LAYERS,
    localize: false,
    sql: (s) => s.appErrorCode,
  },
  {
    column: 'Platform',
    attribute: ATTR_MP_PLATFORM,
    layers: ['client'],
    localize: false,
    sql: () => resource(ATTR_MP_PLATFORM),
  },
  {
    column: 'OsName',
    attribute: ATTR_OS_NAME,
    layers: ['client'],
    localize: true,
    sql: () => resource(ATTR_OS_NAME),
  },
  {
    column: 'BaseLibraryVersion',
    attribute: ATTR_MP_BASE_LIBRARY_VERSION,
    layers: ['client'],
    localize: true,
    sql: () => resource(ATTR_MP_BASE_LIBRARY_VERSION),
  },
  {
    column: 'HostVersion',
    attribute: ATTR_MP_HOST_VERSION,
    layers: ['client'],
    localize: true,
    sql: () => resource(ATTR_MP_HOST_VERSION),
  },
  {
    column: 'AppVersion',
    attribute: ATTR_SERVICE_VERSION,
    layers: ['client'],
    localize: true,
    sql: () => resource(ATTR_SERVICE_VERSION),
  },
  {
    // backend spans carry it from the client's baggage
    column: 'Fingerprint',
    attribute: ATTR_MP_FINGERPRINT,
    layers: ['client', 'backend'],
    localize: false,
    sql: () => firstOf(span(ATTR_MP_FINGERPRINT), resource(ATTR_MP_FINGERPRINT)),
  },
  {
    column: 'NetworkType',
    attribute: 'network.type',
    layers: ['client'],
    localize: true,
    sql: () => firstOf(span(ATTR_NETWORK_CONNECTION_SUBTYPE), span(ATTR_NETWORK_CONNECTION_TYPE)),
  },
  { column: 'Carrier', attribute: 'carrier', layers: LAYERS, localize: true, sql: (s) => s.carrier },
  { column: 'Province', attribute: 'province', layers: LAYERS, localize: true, sql: (s) => s.province },
  {
    column: 'BackendNode',
    attribute: ATTR_HOST_NAME,
    layers: ['backend'],
    localize: true,
    sql: () => resource(ATTR_HOST_NAME),
  },
];

/** The dimensions root-cause localization searches in one layer. */
export const localizableDimensions = (layer: Layer): CubeDimension[] =>
  CUBE_DIMENSIONS.filter((d) => d.localize && d.layers.includes(layer));

/** The dimension a name refers to (its column or its attribute). */
export function cubeDimension(name: string): CubeDimension | undefined {
  return CUBE_DIMENSIONS.find((d) => d.column === name || d.attribute === name);
}

/** A measure of the cube: how one span contributes and how minutes are merged. */
export interface CubeMeasure {
  column: string;
  /** the ClickHouse type of the column */
  type: string;
  /** its aggregate over spans (the view's SELECT) */
  sql: (s: SpanSql) => string;
  meaning: string;
}

const QUANTILES = LATENCY_QUANTILES.join(', ');
export const CUBE_MEASURES: readonly CubeMeasure[] = [
  {
    column: 'Spans',
    type: 'SimpleAggregateFunction(sum, UInt64)',
    sql: () => 'count()',
    meaning: 'stored spans (unweighted)',
  },
  {
    column: 'Requests',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sum(${s.weight})`,
    meaning: 'Σ weight: estimated real requests',
  },
  {
    column: 'Errors',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sumIf(${s.weight}, ${s.isError})`,
    meaning: 'Σ weight of failed requests',
  },
  {
    column: 'AvailGood',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sumIf(${s.weight}, NOT ${s.isError} AND ${s.countsForAvailability})`,
    meaning: 'availability numerator',
  },
  {
    column: 'AvailTotal',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sumIf(${s.weight}, ${s.countsForAvailability})`,
    meaning: 'availability denominator (user aborts excluded)',
  },
  {
    column: 'Slow',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sumIf(${s.weight}, ${s.isSlow})`,
    meaning: 'Σ weight slower than the route SLO',
  },
  {
    column: 'DurationSumMs',
    type: 'SimpleAggregateFunction(sum, Float64)',
    sql: (s) => `sum(${s.durationMs} * ${s.weight})`,
    meaning: 'Σ duration × weight',
  },
  {
    column: 'DurationMaxMs',
    type: 'SimpleAggregateFunction(max, Float64)',
    sql: (s) => `max(${s.durationMs})`,
    meaning: 'slowest span',
  },
  {
    column: 'LatencyMs',
    type: `AggregateFunction(quantilesTDigestWeighted(${QUANTILES}), Float64, UInt64)`,
    sql: (s) =>
      `quantilesTDigestWeightedState(${QUANTILES})(${s.durationMs}, toUInt64(greatest(1, round(${s.weight}))))`,
    meaning: `latency quantiles ${QUANTILES} (t-digest state, weighted)`,
  },
];

/** Every column of mp_sli_1m, in order (Minute and Layer first). */
export const CUBE_COLUMNS: readonly string[] = [
  'Minute',
  'Layer',
  ...CUBE_DIMENSIONS.map((d) => d.column),
  ...CUBE_MEASURES.map((m) => m.column),
];

/** Reads one latency quantile from the cube (merging the t-digest states): e.g. latencySql(0.99). */
export function latencySql(q: LatencyQuantile, column = 'LatencyMs'): string {
  return `quantilesTDigestWeightedMerge(${QUANTILES})(${column})[${LATENCY_QUANTILES.indexOf(q) + 1}]`;
}

/**
 * The cube view's SELECT over `<db>.otel_traces`: one row per minute (or another grain: `bucket` is the
 * expression for the Minute column) and combination of Layer and dimensions. The migration's materialized
 * view is exactly this; benchmarks run it over raw spans to price a panel without the cube.
 */
export function cubeViewSql(db: string, bucket = 'toStartOfMinute(Timestamp)'): string {
  const s = spanSql(db);
  return [
    'SELECT',
    `    ${bucket} AS Minute,`,
    `    ${s.layer} AS Layer,`,
    ...CUBE_DIMENSIONS.map((d) => `    ${dimensionSql(d, s)} AS ${d.column},`),
    ...CUBE_MEASURES.map(
      (m, i) => `    ${m.sql(s)} AS ${m.column}${i < CUBE_MEASURES.length - 1 ? ',' : ''}`,
    ),
    `FROM ${db}.otel_traces`,
    "WHERE Layer != ''",
    `GROUP BY Minute, Layer, ${CUBE_DIMENSIONS.map((d) => d.column).join(', ')}`,
  ].join('\n');
}

/**
 * The placeholders the migrations may use: `{{span.<name>}}` for each derivation and `{{cube.view}}`
 * (the cube view's SELECT), rendered for a database.
 */
export function cubePlaceholders(db: string): Record<string, string> {
  const out: Record<string, string> = { 'cube.view': cubeViewSql(db) };
  for (const [k, v] of Object.entries(spanSql(db))) out[`span.${k}`] = v;
  return out;
}
