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
