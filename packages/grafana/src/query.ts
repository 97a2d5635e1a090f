// A grafana-clickhouse-datasource SQL target, as the plugin stores it in dashboard JSON.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';

export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
export const DATASOURCE_UID = 'mp-otel-clickhouse';
export const DATASOURCE = { type: DATASOURCE_TYPE, uid: DATASOURCE_UID };
/** The plugin version the JSON is written for (macros read from its source at this version). */
export const PLUGIN_VERSION = '4.20.0';

/** sqlds FormatQueryOption: 0 time series, 1 table, 2 logs, 3 trace. */
export enum Format {
  TimeSeries = 0,
  Table = 1,
  Logs = 2,
  Trace = 3,
}

export interface ClickHouseSqlQuery extends cog.Dataquery {
  refId: string;
  datasource: { type: string; uid: string };
  editorType: 'sql';
  pluginVersion: string;
  rawSql: string;
  format: Format;
  queryType?: 'table' | 'timeseries' | 'logs' | 'traces';
}

export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly q: ClickHouseSqlQuery;
  constructor(rawSql: string, format: Format = Format.Table, refId = 'A') {
    const queryType = ({ 0: 'timeseries', 1: 'table', 2: 'logs', 3: 'traces' } as const)[format];
    this.q = {
      refId,
      datasource: { ...DATASOURCE },
      editorType: 'sql',
      pluginVersion: PLUGIN_VERSION,
      rawSql: rawSql.trim(),
      format,
      queryType,
      _implementsDataqueryVariant() {},
    };
  }
  build(): cog.Dataquery {
    return this.q;
  }
}

export const sql = (rawSql: string, format: Format = Format.Table, refId = 'A') =>
  new ClickHouseQueryBuilder(rawSql, format, refId);

// ── template variables in SQL, escaped ──
// Grafana's ClickHouse plugin inserts a variable's value as is (multi-value: `'a','b'` unescaped), and its
// `singlequote`/`sqlstring` formats do not escape the backslash that ClickHouse honours in literals, so a
// telemetry value such as `3.9.9') OR throwIf(1,'x') OR x IN ('x` offered in a dropdown would run. The
// dashboards therefore let Grafana percent-encode every value (RFC 3986 strict: only `A-Za-z0-9-_.~%` remain,
// plus `&=` and the variable's name for `queryparam`) inside a string literal, and ClickHouse decode it.

/** A multi-value variable's values as a ClickHouse Array(String): `${v:queryparam}` = `var-v=a&var-v=b`. */
export function variableValues(name: string): string {
  return `arrayMap(p -> decodeURLFormComponent(substring(p, position(p, '=') + 1)), splitByChar('&', '\${${name}:queryparam}'))`;
}

/** `expr` is one of the selected values of multi-value `name`; no filter when All (or nothing) is selected. */
export function variableIn(expr: string, name: string): string {
  return `$__conditionalAll(has(${variableValues(name)}, ${expr}), $${name})`;
}

/** A single-value variable (text box, single select) as a ClickHouse String expression. */
export function variableText(name: string): string {
  return `decodeURLFormComponent('\${${name}:percentencode}')`;
}
