// Small helpers over @grafana/grafana-foundation-sdk builders: every panel here has ClickHouse SQL targets.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE, Format, sql } from './query.js';

export type PanelKind = 'timeseries' | 'stat' | 'table' | 'piechart' | 'traces' | 'logs';

export interface PanelSpec {
  kind: PanelKind;
  title: string;
  description?: string;
  /** One SQL target, or several (refIds A, B, …). */
  sql: string | string[];
  unit?: string;
  /** Threshold steps after the base (green): [value, colour]. */
  thresholds?: Array<[number, string]>;
  /** Panel relative time (e.g. '15m', '7d'): Grafana runs the panel over [now - timeFrom, now]. */
  timeFrom?: string;
  w?: number;
  h?: number;
  /** Draw thresholds as lines (timeseries). */
  thresholdLines?: boolean;
}

const formatFor: Record<PanelKind, Format> = {
  timeseries: Format.TimeSeries,
  stat: Format.Table,
  table: Format.Table,
  piechart: Format.Table,
  traces: Format.Trace,
  logs: Format.Logs,
};

function thresholdsOf(spec: PanelSpec): dashboard.ThresholdsConfigBuilder | undefined {
  if (!spec.thresholds) return undefined;
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: 'green' }, ...spec.thresholds.map(([value, color]) => ({ value, color }))]);
}

export function panel(spec: PanelSpec): cog.Builder<dashboard.Panel> {
  const sqls = Array.isArray(spec.sql) ? spec.sql : [spec.sql];
  const targets = sqls.map((s, i) => sql(s, formatFor[spec.kind], String.fromCharCode(65 + i)));
  const th = thresholdsOf(spec);
  const w = spec.w ?? 12;
  const h = spec.h ?? 8;
  switch (spec.kind) {
    case 'timeseries': {
      const b = new timeseries.PanelBuilder()
        .title(spec.title)
        .datasource(DATASOURCE)
        .targets(targets)
        .span(w)
        .height(h);
      if (spec.unit) b.unit(spec.unit);
      if (th) b.thresholds(th);
      if (spec.thresholdLines)
        b.thresholdsStyle(
          new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line),
        );
      if (spec.timeFrom) b.timeFrom(spec.timeFrom);
      if (spec.description) b.description(spec.description);
      return b;
    }
    case 'stat': {
      const b = new stat.PanelBuilder()
        .title(spec.title)
        .datasource(DATASOURCE)
        .targets(targets)
        .span(w)
        .height(h)
        .colorMode(common.BigValueColorMode.Background)
        .graphMode(common.BigValueGraphMode.None)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
      if (spec.unit) b.unit(spec.unit);
      if (th) b.thresholds(th);
      if (spec.timeFrom) b.timeFrom(spec.timeFrom);
      if (spec.description) b.description(spec.description);
      return b;
    }
    case 'table': {
      const b = new table.PanelBuilder()
        .title(spec.title)
        .datasource(DATASOURCE)
        .targets(targets)
        .span(w)
        .height(h);
      if (spec.unit) b.unit(spec.unit);
      if (th) {
        b.thresholds(th);
        b.cellOptions({ type: common.TableCellDisplayMode.ColorText } as common.TableCellOptions);
      }
      if (spec.timeFrom) b.timeFrom(spec.timeFrom);
      if (spec.description) b.description(spec.description);
      return b;
    }
    case 'piechart': {
      const b = new piechart.PanelBuilder()
        .title(spec.title)
        .datasource(DATASOURCE)
        .targets(targets)
        .span(w)
        .height(h)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(true));
      if (spec.unit) b.unit(spec.unit);
      if (spec.timeFrom) b.timeFrom(spec.timeFrom);
      if (spec.description) b.description(spec.description);
      return b;
    }
    case 'traces':
    case 'logs': {
      const b = new dashboard.PanelBuilder()
        .type(spec.kind)
        .title(spec.title)
        .datasource(DATASOURCE)
        .targets(targets)
        .span(w)
        .height(h);
      if (spec.description) b.description(spec.description);
      return b;
    }
  }
}

export interface VariableSpec {
  name: string;
  label: string;
  /** SQL (query variable), or undefined for a text box. */
  sql?: string;
  multi?: boolean;
  /** Default for a text box / single-value variable. */
  value?: string;
}

export function variable(v: VariableSpec): cog.Builder<dashboard.VariableModel> {
  if (v.sql === undefined) {
    return new dashboard.TextBoxVariableBuilder(v.name)
      .label(v.label)
      .defaultValue(v.value ?? '')
      .current({ text: v.value ?? '', value: v.value ?? '' });
  }
  const b = new dashboard.QueryVariableBuilder(v.name)
    .label(v.label)
    .datasource(DATASOURCE)
    .query({ editorType: 'sql', rawSql: v.sql, format: Format.Table })
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  if (v.multi) b.multi(true).includeAll(true).current({ text: 'All', value: '$__all', selected: true });
  else if (v.value) b.current({ text: v.value, value: v.value, selected: true });
  return b;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags?: string[];
  /** Default time range (from, e.g. 'now-6h'). */
  from?: string;
  variables: VariableSpec[];
  panels: PanelSpec[];
  annotations?: Array<{ name: string; sql: string; color?: string }>;
}

export function buildDashboard(d: DashboardSpec): dashboard.Dashboard {
  const b = new dashboard.DashboardBuilder(d.title)
    .uid(d.uid)
    .description(d.description)
    .tags(['mp-otel', ...(d.tags ?? [])])
    .editable()
    .refresh('1m')
    .time({ from: d.from ?? 'now-6h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair);
  for (const v of d.variables) b.withVariable(variable(v));
  for (const p of d.panels) b.withPanel(panel(p));
  for (const a of d.annotations ?? []) {
    b.annotation(
      new dashboard.AnnotationQueryBuilder()
        .name(a.name)
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor(a.color ?? '#73BF69')
        .target(sql(a.sql, Format.Table, 'Anno')),
    );
  }
  const built = b.build();
  // stable panel ids (1, 2, … in definition order): deep links, the console's data-panel-id, alert links
  for (const [i, p] of ((built.panels ?? []) as dashboard.Panel[]).entries()) p.id = i + 1;
  // The SDK's query-variable builder also writes the interval-variable fields auto / auto_min /
  // auto_count, which Grafana's VariableModel schema does not have (caught by test/schema.test.ts).
  for (const v of built.templating?.list ?? []) {
    if (v.type !== 'interval') {
      const o = v as unknown as Record<string, unknown>;
      delete o.auto;
      delete o.auto_min;
      delete o.auto_count;
    }
  }
  return built;
}
