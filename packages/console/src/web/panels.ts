// Panel renderers for the Grafana panel types the definitions use: time series (uPlot), stat with
// thresholds, table, pie chart (drawn as a bar gauge), traces (the waterfall). Each panel element carries
// data-panel-id and data-panel-state (loading → ok | nodata | error).
import uPlot from 'uplot';
import { color, fmtDuration, fmtNumber, fmtTime, h, num, PALETTE } from './dom.js';
import { t } from './i18n.js';
import { waterfall } from './waterfall.js';

export interface Column {
  name: string;
  type: string;
}
export interface Target {
  refId: string;
  columns: Column[];
  rows: Array<Record<string, unknown>>;
  error?: string;
}
export interface PanelDef {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  timeFrom?: string;
  fieldConfig?: {
    defaults?: {
      unit?: string;
      thresholds?: { steps: Array<{ value: number | null; color: string }> };
      custom?: { thresholdsStyle?: { mode?: string } };
    };
  };
}
export interface Exemplar {
  time_ms: number | string;
  trace_id: string;
  error: number | string;
  status: number | string;
  route: string;
  duration_ms: number | string;
}

export interface Annotation {
  name: string;
  color: string;
  events: Array<{ time_ms: number; text: string }>;
}

export type PanelState = 'ok' | 'nodata' | 'error';

const isTime = (c: Column) => /^(Nullable\()?(DateTime|Date)/.test(c.type);
const isNumeric = (c: Column) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(c.type);
const isText = (c: Column) => /String|Enum|UUID|IPv/.test(c.type) && !/^(Array|Map|Tuple)/.test(c.type);

/** DateTime values come as unix seconds (date_time_output_format=unix_timestamp). */
const timeMs = (v: unknown) =>
  typeof v === 'string' && /^\d{4}-\d\d-\d\d$/.test(v) ? Date.parse(`${v}T00:00:00`) : (num(v) ?? 0) * 1000;

function thresholdColor(def: PanelDef, v: number): string | undefined {
  const steps = def.fieldConfig?.defaults?.thresholds?.steps;
  if (!steps?.length) return undefined;
  let c = steps[0]!.color;
  for (const s of steps) if (s.value === null || v >= s.value) c = s.color;
  return color(c);
}

function cell(col: Column, v: unknown, def: PanelDef): Node | string {
  if (v === null || v === undefined) return '';
  if (isTime(col)) return fmtTime(timeMs(v));
  if (/^(trace_?id|traceID)$/i.test(col.name) && typeof v === 'string' && /^[0-9a-f]{32}$/.test(v))
    return h('a', { href: `/trace/${v}`, class: 'trace-link', 'data-trace-id': v }, v.slice(0, 16));
  if (isNumeric(col)) {
    const n = num(v);
    if (n === null) return '';
    const unit = /_ms$/.test(col.name)
      ? 'ms'
      : /(^|_)(ratio|rate|share|availability|budget|remaining|p400|target)($|_)/.test(col.name)
        ? 'percentunit'
        : undefined;
    const txt = fmtNumber(n, unit);
    const c = thresholdColor(def, n);
    return c && (def.fieldConfig?.defaults?.thresholds?.steps.length ?? 0) > 1 && unit === 'percentunit'
      ? h('span', { style: `color:${c}` }, txt)
      : txt;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function table(body: HTMLElement, def: PanelDef, target: Target) {
  const cols = target.columns;
  body.append(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            cols.map((c) => h('th', {}, c.name)),
          ),
        ),
        h(
          'tbody',
          {},
          target.rows.map((r) =>
            h(
              'tr',
              {},
              cols.map((c) => h('td', {}, cell(c, r[c.name], def))),
            ),
          ),
        ),
      ),
    ),
  );
}

function stat(body: HTMLElement, el: HTMLElement, def: PanelDef, target: Target): boolean {
  const col = target.columns.find(isNumeric);
  const last = target.rows[target.rows.length - 1];
  const v = col && last ? num(last[col.name]) : null;
  if (v === null) return false;
  const c = thresholdColor(def, v) ?? color('green');
  el.dataset.value = String(v);
  body.append(
    h('div', { class: 'stat', style: `background:${c}` }, fmtNumber(v, def.fieldConfig?.defaults?.unit)),
  );
  return true;
}

function barGauge(body: HTMLElement, def: PanelDef, target: Target) {
  const label = target.columns.find(isText);
  const value = target.columns.find(isNumeric);
  if (!value) return;
  const rows = target.rows.map((r) => ({
    k: label ? String(r[label.name]) : '',
    v: num(r[value.name]) ?? 0,
  }));
  const total = rows.reduce((s, r) => s + r.v, 0) || 1;
  const max = Math.max(...rows.map((r) => r.v), 1);
  body.append(
    h(
      'div',
      { class: 'bars' },
      rows.map((r, i) =>
        h(
          'div',
          { class: 'bar-row' },
          h('span', { class: 'bar-label' }, r.k),
          h(
            'span',
            { class: 'bar-track' },
            h('span', {
              class: 'bar-fill',
              style: `width:${(100 * r.v) / max}%;background:${PALETTE[i % PALETTE.length]}`,
            }),
          ),
          h(
            'span',
            { class: 'bar-value' },
            `${fmtNumber(r.v, def.fieldConfig?.defaults?.unit)} (${((100 * r.v) / total).toFixed(1)}%)`,
          ),
        ),
      ),
    ),
  );
}

/** Long rows (time, labels…, values…) → uPlot's aligned columns, one series per label set and value column. */
export function toSeries(target: Target): {
  times: number[];
  series: Array<{ name: string; values: Array<number | null> }>;
} {
  const timeCol = target.columns.find((c) => c.name === 'time') ?? target.columns.find(isTime);
  if (!timeCol) return { times: [], series: [] };
  const labels = target.columns.filter((c) => c !== timeCol && isText(c));
  const values = target.columns.filter((c) => c !== timeCol && isNumeric(c));
  const times = [...new Set(target.rows.map((r) => num(r[timeCol.name]) ?? 0))].sort((a, b) => a - b);
  const at = new Map(times.map((x, i) => [x, i]));
  const byName = new Map<string, Array<number | null>>();
  for (const r of target.rows) {
    const key = labels.map((l) => String(r[l.name] ?? '')).join(' ');
    for (const v of values) {
      const name = key ? (values.length > 1 ? `${key} ${v.name}` : key) : v.name;
      let arr = byName.get(name);
      if (!arr) {
        arr = new Array(times.length).fill(null);
        byName.set(name, arr);
      }
      arr[at.get(num(r[timeCol.name]) ?? 0)!] = num(r[v.name]);
    }
  }
  return { times, series: [...byName].map(([name, vals]) => ({ name, values: vals })) };
}

function timeseries(
  body: HTMLElement,
  el: HTMLElement,
  def: PanelDef,
  target: Target,
  range: { from: number; to: number },
  exemplars: Exemplar[],
  annotations: Annotation[],
): boolean {
  const { times, series } = toSeries(target);
  if (!times.length || !series.length) return false;
  const unit = def.fieldConfig?.defaults?.unit;
  const steps = def.fieldConfig?.defaults?.thresholds?.steps ?? [];
  const lines = def.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode === 'line';
  const chart = h('div', { class: 'chart' });
  body.append(chart);
  el.dataset.series = String(series.length);
  el.dataset.max = String(
    Math.max(...series.flatMap((s) => s.values.filter((v): v is number => v !== null))),
  );
  const width = Math.max(200, body.clientWidth - 8);
  const height = Math.max(80, body.clientHeight - 34);
  const opts: uPlot.Options = {
    width,
    height,
    scales: { x: { time: true, min: range.from / 1000, max: range.to / 1000 } },
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    axes: [
      { stroke: '#9fa7b3', grid: { stroke: '#2c3235' }, ticks: { stroke: '#2c3235' } },
      {
        stroke: '#9fa7b3',
        grid: { stroke: '#2c3235' },
        ticks: { stroke: '#2c3235' },
        size: 60,
        values: (_u, vals) => vals.map((v) => fmtNumber(v, unit)),
      },
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.name,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        points: { show: times.length < 40 },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmtNumber(v, unit)),
      })),
    ],
    hooks: {
      draw: [
        (u) => {
          if (!lines) return;
          const ctx = u.ctx;
          for (const s of steps) {
            if (s.value === null) continue;
            const y = u.valToPos(s.value, 'y', true);
            if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
            ctx.save();
            ctx.strokeStyle = color(s.color);
            ctx.setLineDash([6, 4]);
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.restore();
          }
        },
      ],
    },
  };
  // exemplars: one request per interval with its trace (an error first, then the slowest); click → the trace
  const place = (u: uPlot) => {
    for (const old of u.over.querySelectorAll('.exemplar')) old.remove();
    for (const ex of exemplars) {
      const x = u.valToPos((num(ex.time_ms) ?? 0) / 1000, 'x');
      if (!(x >= 0 && x <= u.over.clientWidth)) continue;
      const bad = num(ex.error) === 1;
      u.over.append(
        h('a', {
          class: `exemplar${bad ? ' bad' : ''}`,
          href: `/trace/${ex.trace_id}`,
          'data-trace-id': ex.trace_id,
          title: `${ex.route} ${ex.status} ${fmtDuration(num(ex.duration_ms) ?? 0)} — trace ${ex.trace_id}`,
          style: `left:${x}px`,
        }),
      );
    }
    el.dataset.exemplars = String(u.over.querySelectorAll('.exemplar').length);
  };
  const marks = (u: uPlot) => {
    for (const old of u.over.querySelectorAll('.annotation')) old.remove();
    for (const a of annotations)
      for (const ev of a.events) {
        const x = u.valToPos(ev.time_ms / 1000, 'x');
        if (!(x >= 0 && x <= u.over.clientWidth)) continue;
        u.over.append(
          h('span', {
            class: 'annotation',
            title: `${a.name}: ${ev.text}`,
            'data-text': ev.text,
            style: `left:${x}px;border-color:${a.color}`,
          }),
        );
      }
  };
  opts.hooks!.ready = [place, marks];
  new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, chart);
  return true;
}

/** Renders one panel's result into its element; returns the panel state. */
export function renderPanel(
  el: HTMLElement,
  body: HTMLElement,
  def: PanelDef,
  targets: Target[],
  range: { from: number; to: number },
  exemplars: Exemplar[] = [],
  annotations: Annotation[] = [],
): PanelState {
  body.replaceChildren();
  const failed = targets.find((x) => x.error);
  if (failed) {
    body.append(
      h(
        'div',
        { class: 'panel-error', title: failed.error },
        `${t('error')}: ${failed.error!.slice(0, 300)}`,
      ),
    );
    return 'error';
  }
  const target = targets[0];
  let shown = false;
  if (target && target.rows.length > 0) {
    switch (def.type) {
      case 'stat':
        shown = stat(body, el, def, target);
        break;
      case 'timeseries':
        shown = timeseries(body, el, def, target, range, exemplars, annotations);
        break;
      case 'piechart':
        barGauge(body, def, target);
        shown = true;
        break;
      case 'traces':
        body.append(
          waterfall(
            target.rows.map((r) => ({
              span_id: String(r.spanID),
              parent_span_id: String(r.parentSpanID ?? ''),
              name: String(r.operationName),
              service: String(r.serviceName),
              kind: String(r.kind ?? ''),
              start_ms: num(r.startTime) ?? 0,
              duration_ms: num(r.duration) ?? 0,
              status_code: String(r.statusCode ?? ''),
            })),
          ),
        );
        shown = true;
        break;
      default:
        table(body, def, target);
        shown = true;
    }
  }
  if (!shown) body.append(h('div', { class: 'nodata' }, t('noData')));
  return shown ? 'ok' : 'nodata';
}
