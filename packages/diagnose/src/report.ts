// `mp-otel report`: one self-contained HTML file (inline SVG and CSS, no script, no network) for the
// incident: the timeline, the route's SLIs per minute by layer, the culprit breakdown with its evidence,
// exemplar traces from otel_traces drawn as waterfalls, and the exceptions of the window (stacks in original
// sources where the release's source maps were uploaded).
import type { ClickHouseClient } from '@clickhouse/client';
import { cubeDimension, dimensionSql, localizableDimensions, spanSql } from '@mp-otel/contracts';
import type { Culprit, Diagnosis } from './diagnose.js';
import { exceptionGroups } from './exceptions.js';
import { queryRows } from './query.js';

export interface TimelineEvent {
  atMs: number;
  label: string;
}

export interface ReportOptions {
  client: ClickHouseClient;
  database: string;
  diagnosis: Diagnosis;
  title?: string;
  /** extra moments for the timeline (fault injected, alert fired, …) */
  events?: TimelineEvent[];
  /** minutes shown before the anomaly (default 30) */
  contextMinutes?: number;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const MINUTE = 60_000;
const time = (ms: number) => new Date(ms).toISOString().slice(11, 16);

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

/** A line chart as inline SVG, with vertical markers. */
export function lineChart(
  title: string,
  series: Series[],
  markers: TimelineEvent[],
  format: (v: number) => string,
  width = 900,
  height = 220,
): string {
  const pad = { l: 60, r: 16, t: 28, b: 28 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<p>${esc(title)}: no data</p>`;
  const x0 = Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(...all.map((p) => p[0]), x0 + MINUTE);
  const y1 = Math.max(...all.map((p) => p[1]), 1e-9) * 1.1;
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const sy = (y: number) => height - pad.b - (y / y1) * (height - pad.t - pad.b);
  const lines = series
    .map(
      (s) =>
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
    )
    .join('');
  const ticks = [0, 0.5, 1]
    .map(
      (f) =>
        `<text x="${pad.l - 6}" y="${sy(y1 * f) + 4}" text-anchor="end">${esc(format(y1 * f))}</text><line x1="${pad.l}" x2="${width - pad.r}" y1="${sy(y1 * f)}" y2="${sy(y1 * f)}" class="grid"/>`,
    )
    .join('');
  const xt = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${sx(x0 + f * (x1 - x0))}" y="${height - 8}" text-anchor="middle">${time(x0 + f * (x1 - x0))}</text>`,
    )
    .join('');
  const marks = markers
    .filter((m) => m.atMs >= x0 && m.atMs <= x1)
    .map(
      (m, i) =>
        `<line x1="${sx(m.atMs)}" x2="${sx(m.atMs)}" y1="${pad.t}" y2="${height - pad.b}" class="mark"/><text x="${sx(m.atMs) + 4}" y="${pad.t + 12 + 12 * i}" class="marktext">${esc(m.label)}</text>`,
    )
    .join('');
  const legend = series
    .map((s, i) => `<text x="${pad.l + i * 160}" y="16" fill="${s.color}">■ ${esc(s.name)}</text>`)
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${ticks}${xt}${lines}${marks}${legend}</svg></figure>`;
}

function culpritText(c: Culprit): string {
  return Object.entries(c.where)
    .map(([k, v]) => `${k}=${v}`)
    .join(' AND ');
}

export async function renderReport(o: ReportOptions): Promise<string> {
  const d = o.diagnosis;
  const a = d.anomaly;
  const db = o.database;
  const events = [...(o.events ?? [])];
  if (!a) {
    return page(
      o.title ?? 'mp-otel incident report',
      `<p class="ok">No anomaly on any catalog route: nothing to report.</p>`,
    );
  }
  events.push({ atMs: a.onsetMs, label: 'anomaly detected from' });
  const from = a.onsetMs - (o.contextMinutes ?? 30) * MINUTE;
  const params = { route: a.route, from: Math.floor(from / 1000), at: Math.floor(a.atMs / 1000) };

  const series = await queryRows<{ layer: string; t: number; n: number; e: number; s: number; p99: number }>(
    o.client,
    `SELECT Layer AS layer, toUnixTimestamp(Minute) * 1000 AS t, sum(Requests) AS n, sum(Errors) AS e, sum(Slow) AS s,
            quantilesTDigestWeightedMerge(0.5, 0.9, 0.95, 0.99)(LatencyMs)[4] AS p99
       FROM ${db}.mp_sli_1m
      WHERE Route = {route:String} AND Minute >= toDateTime({from:UInt32}) AND Minute <= toDateTime({at:UInt32})
      GROUP BY Layer, Minute ORDER BY Layer, Minute`,
    params,
  );
  const colors: Record<string, string> = { client: '#1f77b4', gateway: '#9467bd', backend: '#d62728' };
  const layers = [...new Set(series.map((r) => r.layer))];
  const byLayer = (f: (r: (typeof series)[number]) => number) =>
    layers.map((layer) => ({
      name: layer,
      color: colors[layer] ?? '#555',
      points: series.filter((r) => r.layer === layer).map((r): [number, number] => [Number(r.t), f(r)]),
    }));
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const charts = [
    lineChart(
      `${a.route}: requests per minute`,
      byLayer((r) => Number(r.n)),
      events,
      (v) => v.toFixed(0),
    ),
    lineChart(
      `${a.route}: error rate`,
      byLayer((r) => (Number(r.n) > 0 ? Number(r.e) / Number(r.n) : 0)),
      events,
      pct,
    ),
    lineChart(
      `${a.route}: slow ratio (over the route's SLO latency)`,
      byLayer((r) => (Number(r.n) > 0 ? Number(r.s) / Number(r.n) : 0)),
      events,
      pct,
    ),
    lineChart(
      `${a.route}: p99 latency`,
      byLayer((r) => Number(r.p99)),
      events,
      (v) => `${v.toFixed(0)} ms`,
    ),
  ].join('');

  // the culprit's dimensions, value by value
  const top = d.culprits[0];
  let breakdown = '';
  if (top) {
    const dims = localizableDimensions(a.layer).filter((x) => x.attribute in top.where);
    const cols = dims.map((x) => x.column);
    const bad = a.kpi === 'slow_ratio' ? 'Slow' : 'Errors';
    const cells = await queryRows<Record<string, string | number>>(
      o.client,
      `SELECT ${cols.join(', ')}, sum(Requests) AS n, sum(${bad}) AS bad
         FROM ${db}.mp_sli_1m
        WHERE Layer = {layer:String} AND Route = {route:String}
          AND Minute >= toDateTime({onset:UInt32}) AND Minute <= toDateTime({at:UInt32})
        GROUP BY ${cols.join(', ')} ORDER BY bad DESC, n DESC LIMIT 24`,
      { ...params, layer: a.layer, onset: Math.floor(a.onsetMs / 1000) },
    );
    const max = Math.max(...cells.map((c) => (Number(c.n) > 0 ? Number(c.bad) / Number(c.n) : 0)), 1e-9);
    breakdown = `<table><tr>${dims.map((x) => `<th>${esc(x.attribute)}</th>`).join('')}<th>requests</th><th>${a.kpi === 'slow_ratio' ? 'slow' : 'errors'}</th><th>rate</th></tr>${cells
      .map((c) => {
        const rate = Number(c.n) > 0 ? Number(c.bad) / Number(c.n) : 0;
        const hit = dims.every((x) => String(c[x.column]) === top.where[x.attribute]);
        return `<tr class="${hit ? 'hit' : ''}">${cols.map((col) => `<td>${esc(c[col] || '—')}</td>`).join('')}<td>${Math.round(Number(c.n))}</td><td>${Math.round(Number(c.bad))}</td><td><span class="bar" style="width:${((160 * rate) / max).toFixed(0)}px"></span> ${pct(rate)}</td></tr>`;
      })
      .join('')}</table>`;
  }
  const ranked = `<table><tr><th>#</th><th>culprit</th><th>score</th><th>inside (baseline)</th><th>outside</th><th>explains</th><th>bad / requests</th></tr>${d.culprits
    .map(
      (c, i) =>
        `<tr class="${i === 0 ? 'hit' : ''}"><td>${i + 1}</td><td><code>${esc(culpritText(c))}</code></td><td>${c.score.toFixed(1)}</td><td>${pct(c.inside.rate)} (${pct(c.inside.baselineRate)})</td><td>${pct(c.outside.rate)}</td><td>${(100 * c.explains).toFixed(0)}%</td><td>${Math.round(c.inside.bad)} / ${Math.round(c.inside.requests)}</td></tr>`,
    )
    .join('')}</table>`;

  // exemplar traces: failing spans of the culprit, each with the rest of its trace. Layer, route, failure
  // and every dimension are the cube's own derivations (@mp-otel/contracts), so the exemplars are spans the
  // cube counted in the culprit's cells.
  const span = spanSql(db);
  const exParams: Record<string, unknown> = { ...params, onset: Math.floor(a.onsetMs / 1000) };
  const culpritFilters = Object.entries(top?.where ?? {}).flatMap(([attribute, v], i) => {
    const dim = cubeDimension(attribute);
    if (!dim) return [];
    exParams[`v${i}`] = v;
    return [`${dimensionSql(dim, span)} = {v${i}:String}`];
  });
  const traceIds = (
    await queryRows<{ TraceId: string }>(
      o.client,
      `SELECT TraceId FROM ${db}.otel_traces
        WHERE Timestamp >= toDateTime64({onset:UInt32}, 9) AND Timestamp < toDateTime64({at:UInt32} + 60, 9)
          AND ${span.layer} = {layer:String} AND ${span.route} = {route:String}
          AND ${a.kpi === 'slow_ratio' ? span.isSlow : span.isError}
          ${culpritFilters.map((f) => `AND ${f}`).join(' ')}
        ORDER BY Timestamp LIMIT 3`,
      { ...exParams, layer: a.layer },
    )
  ).map((r) => r.TraceId);
  let exemplars = '<p>No exemplar traces found.</p>';
  if (traceIds.length > 0) {
    const spans = await queryRows<{
      TraceId: string;
      SpanId: string;
      ParentSpanId: string;
      SpanName: string;
      ServiceName: string;
      SpanKind: string;
      StatusCode: string;
      start: number;
      ms: number;
      status: string;
      code: string;
    }>(
      o.client,
      `SELECT TraceId, SpanId, ParentSpanId, SpanName, ServiceName, SpanKind, StatusCode,
              toUnixTimestamp64Nano(Timestamp) / 1e6 AS start, Duration / 1e6 AS ms,
              if(${span.status} > 0, toString(${span.status}), ${span.errorType}) AS status,
              ${span.appErrorCode} AS code
         FROM ${db}.otel_traces WHERE TraceId IN {ids:Array(String)} ORDER BY TraceId, Timestamp`,
      { ids: traceIds },
    );
    exemplars = traceIds
      .map((id) => {
        const ss = spans.filter((s) => s.TraceId === id);
        const t0 = Math.min(...ss.map((s) => Number(s.start)));
        const t1 = Math.max(...ss.map((s) => Number(s.start) + Number(s.ms)), t0 + 1);
        const w = 560;
        return `<h4><code>${esc(id)}</code></h4><table class="trace">${ss
          .map((s) => {
            const left = ((Number(s.start) - t0) / (t1 - t0)) * w;
            const width = Math.max(2, (Number(s.ms) / (t1 - t0)) * w);
            return `<tr><td>${esc(s.ServiceName)}</td><td>${esc(s.SpanName)}</td><td>${esc(s.SpanKind)}</td><td>${esc(s.status)} ${esc(s.code)}</td><td>${Number(s.ms).toFixed(1)} ms</td><td><svg width="${w}" height="12"><rect x="${left.toFixed(1)}" width="${width.toFixed(1)}" height="12" class="${s.StatusCode === 'Error' ? 'err' : 'okbar'}"/></svg></td></tr>`;
          })
          .join('')}</table>`;
      })
      .join('');
  }

  const groups = await exceptionGroups(o.client, db, a.onsetMs, a.atMs + MINUTE);
  const exceptions = groups.length
    ? groups
        .map(
          (g) =>
            `<h4><code>${esc(g.type)}</code>: ${esc(g.message)} ×${g.count} <small>(${esc(g.service)}; ${time(g.firstSeenMs)}–${time(g.lastSeenMs)}${g.symbolicated ? '' : '; no source map uploaded for this release'})</small></h4><p>at <code>${esc(g.location)}</code></p><pre>${esc(g.stack)}</pre>`,
        )
        .join('')
    : '<p>No exceptions were recorded in the window.</p>';

  const timeline = `<ol class="timeline">${events
    .sort((x, y) => x.atMs - y.atMs)
    .map(
      (e) =>
        `<li><time>${new Date(e.atMs).toISOString().replace('T', ' ').slice(0, 19)}Z</time> ${esc(e.label)}</li>`,
    )
    .join('')}</ol>`;
  const summary = top
    ? `<p class="verdict">Culprit: <code>${esc(culpritText(top))}</code> on <b>${esc(a.route)}</b> — ${a.kpi.replace('_', ' ')} ${pct(top.inside.rate)} inside vs ${pct(top.outside.rate)} outside, explaining ${(100 * top.explains).toFixed(0)}% of the excess. Layer: <b>${esc(d.verdict?.layer ?? a.layer)}</b>${d.verdict ? ` — ${esc(d.verdict.reason)}` : ''}.</p>`
    : '<p>The anomaly could not be localized to a combination of dimension values.</p>';
  const codes = d.codes.length
    ? `<p>Codes inside the culprit: ${d.codes.map((c) => `<code>${esc(c.status || c.errorType)}${c.appErrorCode ? ` ${esc(c.appErrorCode)}` : ''}</code> ×${Math.round(c.requests)}`).join(', ')}</p>`
    : '';
  return page(
    o.title ?? `mp-otel incident report: ${a.route}`,
    `${summary}<h2>Timeline</h2>${timeline}<h2>SLIs by layer</h2>${charts}<h2>Culprit breakdown</h2>${ranked}${codes}${breakdown}<h2>Exemplar traces</h2>${exemplars}<h2>Exceptions in the window</h2>${exceptions}`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;margin:24px auto;max-width:980px;color:#1b1b1b}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px}
tr.hit{background:#fff3cd}code{background:#f4f4f4;padding:1px 4px}
.bar{display:inline-block;height:10px;background:#d62728;vertical-align:middle}
svg text{font-size:11px;fill:#444}.grid{stroke:#eee}.mark{stroke:#ff7f0e;stroke-dasharray:4 3}.marktext{fill:#ff7f0e}
figure{margin:12px 0}figcaption{font-weight:600}.verdict{font-size:15px;background:#fdecea;padding:10px;border-left:4px solid #d62728}
.ok{background:#e8f5e9;padding:10px}.timeline time{font-family:monospace;color:#555}
.err{fill:#d62728}.okbar{fill:#1f77b4}
pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:6px 8px}
</style></head><body><h1>${esc(title)}</h1>${body}
<footer><p>Generated by mp-otel from the SLI cube (mp_sli_1m), otel_traces and otel_logs.</p></footer></body></html>`;
}
