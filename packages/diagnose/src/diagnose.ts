// `mp-otel diagnose`: detects the anomaly window and names its culprit as a combination of dimension
// values, from the SLI cube alone (SQL through @clickhouse/client, so it runs unchanged on a ClickHouse
// cluster), plus a small search in code.
//
// Method. Detection is a change-point scan per (layer, route, KPI) minute series: for each candidate
// onset k, the binomial (or Poisson, for volume) excess of minutes k..at over the rate of the minutes
// before k, as a z-score; the best onset wins. Localization scores every combination of up to three
// dimension values with the expectation-based binomial scan statistic of Kulldorff ("A spatial scan
// statistic", Comm. Stat. 1997) and Neill ("Fast subset scan for spatial pattern detection", JRSS-B 2012):
// the log-likelihood ratio of "this segment deviates from its own baseline rate" minus the same for
// everything outside it. The search walks the attribute lattice layer by layer, as HotSpot (Sun et al.,
// IEEE Access 2018) and Squeeze (Li et al., ISSRE 2019) do, and reports Adtributor's explanatory power
// (Bhagwan et al., NSDI 2014) as evidence. What it adds for this data: (1) expectations come from each
// segment's own smoothed baseline, so a segment that always fails more (2G, an old app version) is not
// blamed for being itself; (2) a combination is only as good as what it leaves unexplained outside it,
// which rejects both too-broad parents (ios: diluted) and too-narrow children (ios+3.5.0+wifi: leaves
// excess outside) without tuning a threshold; (3) counts are sampling-weighted (mp.sampling.weight);
// (4) a verdict on the layer: errors that clients see but servers never answered point at the network.
import type { ClickHouseClient } from '@clickhouse/client';
import { type CubeDimension, LAYERS, type Layer, localizableDimensions } from '@mp-otel/contracts';

export type Kpi = 'error_rate' | 'slow_ratio' | 'volume';

export interface DiagnoseOptions {
  client: ClickHouseClient;
  database: string;
  /** restrict to one catalog route */
  route?: string;
  /** restrict to one KPI (default: error_rate and slow_ratio, the larger anomaly wins) */
  kpi?: Kpi;
  /** the moment to diagnose (epoch ms; default: the newest minute in the cube) */
  at?: number;
  /** how far back to look (minutes, default 60) */
  lookbackMinutes?: number;
  /** most dimensions in one combination (default 3) */
  maxDimensions?: number;
  /** how many culprits to return (default 5) */
  top?: number;
  /** smallest rise of a rate KPI that counts as an anomaly (defaults: MIN_EXCESS) */
  minExcess?: Partial<Record<'error_rate' | 'slow_ratio', number>>;
}

/** The smallest rise that counts: error rate +0.5 percentage points, slow ratio +5 points. */
export const MIN_EXCESS = { error_rate: 0.005, slow_ratio: 0.05 } as const;

export interface Anomaly {
  layer: Layer;
  route: string;
  kpi: Kpi;
  onsetMs: number;
  atMs: number;
  /** change-point z-score */
  z: number;
  baselineRate: number;
  windowRate: number;
}

export interface Culprit {
  /** attribute → value, e.g. { 'os.name': 'ios', 'mp.base_library.version': '3.5.0' } */
  where: Record<string, string>;
  score: number;
  /** KPI inside the combination during the window, its own baseline, and everything outside it */
  inside: { requests: number; bad: number; rate: number; baselineRate: number };
  outside: { requests: number; bad: number; rate: number };
  /** share of the window's excess bad events the combination explains (Adtributor's explanatory power) */
  explains: number;
}

export interface LayerVerdict {
  layer: 'client' | 'network' | 'gateway' | 'backend';
  reason: string;
}

export interface Diagnosis {
  anomaly?: Anomaly;
  culprits: Culprit[];
  verdict?: LayerVerdict;
  /** status codes and app error codes inside the top culprit during the window */
  codes: Array<{ status: number; errorType: string; appErrorCode: string; requests: number }>;
  elapsedMs: number;
}

const MINUTE = 60_000;

async function rows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return (await rs.json()) as T[];
}

/** One-sided binomial log-likelihood ratio: observed k of n against rate p (0 unless k/n > p). */
export function binomialLlr(k: number, n: number, p: number): number {
  if (n <= 0 || k <= n * p) return 0;
  const q = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
  const r = Math.min(k / n, 1 - 1e-9);
  return k * Math.log(r / q) + (n - k) * Math.log((1 - r) / (1 - q));
}

/** One-sided Poisson log-likelihood ratio: observed c against expected b. */
export function poissonLlr(c: number, b: number): number {
  const e = Math.max(b, 1e-6);
  return c <= e ? 0 : c * Math.log(c / e) - (c - e);
}

interface SeriesRow {
  layer: Layer;
  route: string;
  t: number;
  n: number;
  e: number;
  s: number;
}

/** Change-point scan of one minute series; undefined when nothing stands out. */
function changePoint(
  points: SeriesRow[],
  kpi: Kpi,
  minBaseline = 5,
): { k: number; z: number; p0: number; pw: number } | undefined {
  let best: { k: number; z: number; p0: number; pw: number } | undefined;
  const bad = (r: SeriesRow) => (kpi === 'slow_ratio' ? r.s : r.e);
  for (let k = minBaseline; k < points.length; k++) {
    const base = points.slice(0, k);
    const win = points.slice(k);
    let z: number;
    let p0: number;
    let pw: number;
    if (kpi === 'volume') {
      const mean = base.reduce((a, r) => a + r.n, 0) / base.length;
      const observed = win.reduce((a, r) => a + r.n, 0);
      const expected = mean * win.length;
      z = (observed - expected) / Math.sqrt(Math.max(expected, 1));
      p0 = mean;
      pw = observed / win.length;
    } else {
      const nb = base.reduce((a, r) => a + r.n, 0);
      const eb = base.reduce((a, r) => a + bad(r), 0);
      const nw = win.reduce((a, r) => a + r.n, 0);
      const ew = win.reduce((a, r) => a + bad(r), 0);
      if (nb <= 0 || nw <= 0) continue;
      p0 = Math.max((eb + 0.5) / (nb + 1), 0.001); // never assume a perfect baseline
      pw = ew / nw;
      z = (ew - nw * p0) / Math.sqrt(nw * p0 * (1 - p0));
    }
    if (!best || z > best.z) best = { k, z, p0, pw };
  }
  return best;
}

/** Every (layer, route, KPI) whose series has a significant, material change point, strongest first. */
export async function detect(o: DiagnoseOptions): Promise<Anomaly[]> {
  const db = o.database;
  const at =
    o.at ??
    Number(
      (
        await rows<{ t: number }>(
          o.client,
          `SELECT toUnixTimestamp(max(Minute)) AS t FROM ${db}.mp_sli_1m`,
          {},
        )
      )[0]?.t ?? 0,
    ) * 1000;
  const from = at - (o.lookbackMinutes ?? 60) * MINUTE;
  const series = await rows<SeriesRow>(
    o.client,
    `SELECT Layer AS layer, Route AS route, toUnixTimestamp(Minute) * 1000 AS t,
            sum(Requests) AS n, sum(Errors) AS e, sum(Slow) AS s
       FROM ${db}.mp_sli_1m
      WHERE Minute >= toDateTime({from:UInt32}) AND Minute <= toDateTime({at:UInt32})
        AND Route != '' AND Layer IN {layers:Array(String)}
        AND ({route:String} = '' OR Route = {route:String})
      GROUP BY Layer, Route, Minute
      ORDER BY Layer, Route, Minute`,
    { from: Math.floor(from / 1000), at: Math.floor(at / 1000), route: o.route ?? '', layers: LAYERS },
  );
  const groups = new Map<string, SeriesRow[]>();
  for (const r of series) {
    const key = `${r.layer}\u0000${r.route}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push({
      ...r,
      t: Number(r.t),
      n: Number(r.n),
      e: Number(r.e),
      s: Number(r.s),
    });
  }
  const kpis: Kpi[] = o.kpi ? [o.kpi] : ['error_rate', 'slow_ratio'];
  const found: Anomaly[] = [];
  for (const points of groups.values()) {
    for (const kpi of kpis) {
      const cp = changePoint(points, kpi);
      // z ≥ 5 because every onset was tried (a scan, not one test); and an effect worth waking someone
      // for: errors up half a percentage point (the seed's 400-ratio threshold), slow requests up five
      // (a p95 latency objective breached), volume up half as much again.
      if (!cp || cp.z < 5) continue;
      const material =
        kpi === 'volume' ? cp.pw >= cp.p0 * 1.5 : cp.pw - cp.p0 >= (o.minExcess?.[kpi] ?? MIN_EXCESS[kpi]);
      if (!material) continue;
      found.push({
        layer: points[0]!.layer,
        route: points[0]!.route,
        kpi,
        onsetMs: points[cp.k]!.t,
        atMs: at,
        z: cp.z,
        baselineRate: cp.p0,
        windowRate: cp.pw,
      });
    }
  }
  return found.sort((x, y) => y.z - x.z);
}

function subsets<T>(items: T[], max: number): T[][] {
  const out: T[][] = [];
  const walk = (start: number, acc: T[]) => {
    if (acc.length > 0) out.push(acc);
    if (acc.length === max) return;
    for (let i = start; i < items.length; i++) walk(i + 1, [...acc, items[i]!]);
  };
  walk(0, []);
  return out;
}

interface SegmentRow {
  [key: string]: string | number;
  nw: number;
  bw: number;
  nb: number;
  bb: number;
}

export async function localize(o: DiagnoseOptions, a: Anomaly): Promise<Culprit[]> {
  const db = o.database;
  const dims = localizableDimensions(a.layer);
  if (dims.length === 0) return [];
  const sets = subsets(
    dims.map((_, i) => `d${i}`),
    o.maxDimensions ?? 3,
  );
  const badColumn = a.kpi === 'slow_ratio' ? 'Slow' : 'Errors';
  const measure = a.kpi === 'volume' ? 'Requests' : badColumn;
  const baselineFrom = Math.max(a.onsetMs - (o.lookbackMinutes ?? 60) * MINUTE, 0);
  const windowMinutes = Math.max(1, (a.atMs - a.onsetMs) / MINUTE + 1);
  const baselineMinutes = Math.max(1, (a.onsetMs - baselineFrom) / MINUTE);
  // '=' marks a grouped value, so a real '' stays apart from "not grouped by this column".
  const select = dims.map((d, i) => `concat('=', ${d.column}) AS d${i}`).join(', ');
  const sql = `
    SELECT ${select},
           sumIf(Requests, Minute >= toDateTime({onset:UInt32})) AS nw,
           sumIf(${measure}, Minute >= toDateTime({onset:UInt32})) AS bw,
           sumIf(Requests, Minute < toDateTime({onset:UInt32})) AS nb,
           sumIf(${measure}, Minute < toDateTime({onset:UInt32})) AS bb
      FROM ${db}.mp_sli_1m
     WHERE Layer = {layer:String} AND Route = {route:String}
       AND Minute >= toDateTime({from:UInt32}) AND Minute <= toDateTime({at:UInt32})
     GROUP BY GROUPING SETS ((), ${sets.map((s) => `(${s.join(', ')})`).join(', ')})`;
  const segments = (
    await rows<SegmentRow>(o.client, sql, {
      layer: a.layer,
      route: a.route,
      onset: Math.floor(a.onsetMs / 1000),
      from: Math.floor(baselineFrom / 1000),
      at: Math.floor(a.atMs / 1000),
    })
  ).map(
    (r): SegmentRow => ({ ...r, nw: Number(r.nw), bw: Number(r.bw), nb: Number(r.nb), bb: Number(r.bb) }),
  );
  const isTotal = (r: SegmentRow) => dims.every((_, i) => r[`d${i}`] === '');
  const total = segments.find(isTotal);
  if (!total || total.nw <= 0) return [];
  const p0 = Math.max((total.bb + 0.5) / (total.nb + 1), 0.001);
  const smooth = (bad: number, n: number) => (bad + 50 * p0) / (n + 50); // shrink thin baselines to the route's
  const expectedTotalExcess =
    a.kpi === 'volume'
      ? total.bw - (total.nb / baselineMinutes) * windowMinutes
      : total.bw - total.nw * smooth(total.bb, total.nb);
  const score = (r: SegmentRow) => {
    if (a.kpi === 'volume') {
      const rateIn = r.nb / baselineMinutes;
      const out = { c: total.bw - r.bw, b: ((total.nb - r.nb) / baselineMinutes) * windowMinutes };
      return poissonLlr(r.bw, rateIn * windowMinutes) - poissonLlr(out.c, out.b);
    }
    const pin = smooth(r.bb, r.nb);
    const pout = smooth(total.bb - r.bb, total.nb - r.nb);
    return binomialLlr(r.bw, r.nw, pin) - binomialLlr(total.bw - r.bw, total.nw - r.nw, pout);
  };
  const culprits: Culprit[] = [];
  for (const r of segments) {
    // a segment with nothing outside it (a dimension with one value) localizes nothing
    if (isTotal(r) || r.nw <= 0 || r.nw >= total.nw) continue;
    const where: Record<string, string> = {};
    dims.forEach((d, i) => {
      const v = String(r[`d${i}`]);
      if (v !== '') where[d.attribute] = v.slice(1);
    });
    const s = score(r);
    if (s <= 0) continue;
    const inRate = a.kpi === 'volume' ? r.bw / windowMinutes : r.bw / r.nw;
    const outN = total.nw - r.nw;
    const excess =
      a.kpi === 'volume' ? r.bw - (r.nb / baselineMinutes) * windowMinutes : r.bw - r.nw * smooth(r.bb, r.nb);
    culprits.push({
      where,
      score: s,
      inside: {
        requests: r.nw,
        bad: r.bw,
        rate: inRate,
        baselineRate: a.kpi === 'volume' ? r.nb / baselineMinutes : smooth(r.bb, r.nb),
      },
      outside: { requests: outN, bad: total.bw - r.bw, rate: outN > 0 ? (total.bw - r.bw) / outN : 0 },
      explains: expectedTotalExcess > 0 ? Math.min(1, Math.max(0, excess / expectedTotalExcess)) : 0,
    });
  }
  // Occam: a combination replaces its parent only if it scores clearly better (5 %).
  culprits.sort((x, y) => y.score - x.score || Object.keys(x.where).length - Object.keys(y.where).length);
  const kept: Culprit[] = [];
  for (const c of culprits) {
    const parent = kept.find(
      (k) =>
        Object.keys(k.where).length < Object.keys(c.where).length &&
        Object.entries(k.where).every(([dim, v]) => c.where[dim] === v),
    );
    if (parent && c.score < parent.score * 1.05) continue;
    kept.push(c);
  }
  return kept.slice(0, o.top ?? 5);
}

/** Which layer failed: did the servers answer the failing requests at all? */
async function layerVerdict(
  o: DiagnoseOptions,
  a: Anomaly,
  culprit: Culprit | undefined,
): Promise<{ verdict: LayerVerdict; codes: Diagnosis['codes'] }> {
  const dims: CubeDimension[] = localizableDimensions(a.layer);
  const filters = culprit
    ? Object.entries(culprit.where).map(
        ([attr], i) => `${dims.find((d) => d.attribute === attr)!.column} = {v${i}:String}`,
      )
    : [];
  const params: Record<string, unknown> = {
    layer: a.layer,
    route: a.route,
    onset: Math.floor(a.onsetMs / 1000),
    at: Math.floor(a.atMs / 1000),
  };
  Object.values(culprit?.where ?? {}).forEach((v, i) => {
    params[`v${i}`] = v;
  });
  const codes = (
    await rows<{ status: number; errorType: string; appErrorCode: string; requests: number }>(
      o.client,
      `SELECT HttpStatus AS status, ErrorType AS errorType, AppErrorCode AS appErrorCode, sum(Requests) AS requests
         FROM ${o.database}.mp_sli_1m
        WHERE Layer = {layer:String} AND Route = {route:String}
          AND Minute >= toDateTime({onset:UInt32}) AND Minute <= toDateTime({at:UInt32})
          ${filters.map((f) => `AND ${f}`).join(' ')}
          AND (Errors > 0 OR Slow > 0)
        GROUP BY status, errorType, appErrorCode ORDER BY requests DESC LIMIT 5`,
      params,
    )
  ).map((c) => ({ ...c, status: Number(c.status), requests: Number(c.requests) }));
  if (a.layer !== 'client') {
    return {
      verdict: {
        layer: a.layer,
        reason: `the ${a.layer} itself: its own spans show the ${a.kpi.replace('_', ' ')} rise`,
      },
      codes,
    };
  }
  const noAnswer = codes.filter((c) => c.status === 0).reduce((s, c) => s + c.requests, 0);
  const answered = codes.filter((c) => c.status > 0).reduce((s, c) => s + c.requests, 0);
  if (a.kpi === 'error_rate' && noAnswer > answered) {
    return {
      verdict: {
        layer: 'network',
        reason: `${Math.round((100 * noAnswer) / Math.max(1, noAnswer + answered))}% of the failing client requests never got an answer (${[...new Set(codes.filter((c) => c.status === 0).map((c) => c.errorType))].join(', ')}): they did not reach the servers — the network between these clients and the gateway, or the clients themselves`,
      },
      codes,
    };
  }
  return {
    verdict: {
      layer: 'client',
      reason:
        a.kpi === 'error_rate'
          ? `the servers answered ${codes.map((c) => `${c.status}${c.appErrorCode ? ` ${c.appErrorCode}` : ''}`).join(', ')} only to requests from this client segment: the requests these clients send are what fails`
          : 'only this client segment is slow end to end',
    },
    codes,
  };
}

export async function diagnose(o: DiagnoseOptions): Promise<Diagnosis> {
  const started = Date.now();
  const anomalies = await detect(o);
  const strongest = anomalies[0];
  if (!strongest) return { culprits: [], codes: [], elapsedMs: Date.now() - started };
  // The same route and KPI usually deviates in several layers at once (a 400 shows in the client's span
  // and in the server's). Localize in each and keep the layer whose best combination explains it best:
  // client spans carry the fingerprint, backend spans the node.
  let anomaly = strongest;
  let culprits: Culprit[] = [];
  for (const a of anomalies.filter((x) => x.route === strongest.route && x.kpi === strongest.kpi)) {
    const found = await localize(o, a);
    if (found[0] && (!culprits[0] || found[0].score > culprits[0].score)) {
      anomaly = a;
      culprits = found;
    }
  }
  const { verdict, codes } = await layerVerdict(o, anomaly, culprits[0]);
  return { anomaly, culprits, verdict, codes, elapsedMs: Date.now() - started };
}

export function formatDiagnosis(d: Diagnosis): string {
  if (!d.anomaly) return 'diagnose: no anomaly on any catalog route in the window';
  const a = d.anomaly;
  const pct = (x: number) => (a.kpi === 'volume' ? x.toFixed(1) : `${(100 * x).toFixed(2)}%`);
  const lines = [
    `anomaly: ${a.route} (${a.layer}) ${a.kpi.replace('_', ' ')} ${pct(a.baselineRate)} → ${pct(a.windowRate)} since ${new Date(a.onsetMs).toISOString()} (z=${a.z.toFixed(1)})`,
    'culprits (ranked):',
    ...d.culprits.map(
      (c, i) =>
        `  ${i + 1}. ${Object.entries(c.where)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ' AND ',
          )}  score=${c.score.toFixed(1)}  ${a.kpi === 'volume' ? 'per minute' : 'rate'} ${pct(c.inside.rate)} inside (baseline ${pct(c.inside.baselineRate)}) vs ${pct(c.outside.rate)} outside; explains ${(100 * c.explains).toFixed(0)}% of the excess; ${Math.round(c.inside.bad)}/${Math.round(c.inside.requests)} requests`,
    ),
  ];
  if (d.codes.length)
    lines.push(
      `codes inside: ${d.codes.map((c) => `${c.status || c.errorType}${c.appErrorCode ? ` ${c.appErrorCode}` : ''} ×${Math.round(c.requests)}`).join(', ')}`,
    );
  if (d.verdict) lines.push(`layer: ${d.verdict.layer} — ${d.verdict.reason}`);
  lines.push(`(${d.elapsedMs} ms)`);
  return lines.join('\n');
}
