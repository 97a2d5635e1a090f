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
import {
  CUBE_DIMENSIONS,
  type CubeDimension,
  LAYERS,
  type Layer,
  localizableDimensions,
} from '@mp-otel/contracts';
import { detectSeries, type LeafCell, localizeCells, type SegmentEvidence } from './core.js';
import { rateCells } from './leaf.js';
import { queryRows } from './query.js';

export { binomialLlr, poissonLlr } from './core.js';

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
  /** set when the change was found in one dimension value's series rather than the route's total */
  series?: Record<string, string>;
}

export interface Culprit {
  /** attribute → value, e.g. { 'os.name': 'ios', 'mp.base_library.version': '3.5.0' } */
  where: Record<string, string>;
  score: number;
  /** KPI inside the combination during the window, its own baseline, and everything outside it */
  inside: { requests: number; bad: number; rate: number; baselineRate: number };
  outside: { requests: number; bad: number; rate: number };
  /**
   * share of the window's excess bad events the combination explains (Adtributor's explanatory power), not
   * capped: above 1 when the rest of the traffic improved; measured against the set's excess when the total
   * did not rise at all
   */
  explains: number;
  /** part of the root-cause set (the set comes first in `culprits`) */
  inSet: boolean;
}

export interface LayerVerdict {
  layer: 'client' | 'network' | 'gateway' | 'backend';
  reason: string;
}

export interface Diagnosis {
  anomaly?: Anomaly;
  /** the root-cause set: the fewest combinations that together explain the anomaly (absent: none found) */
  set?: Array<Record<string, string>>;
  culprits: Culprit[];
  verdict?: LayerVerdict;
  /** status codes and app error codes inside the top culprit during the window */
  codes: Array<{ status: number; errorType: string; appErrorCode: string; requests: number }>;
  elapsedMs: number;
}

const MINUTE = 60_000;

interface SeriesRow {
  layer: Layer;
  route: string;
  t: number;
  n: number;
  e: number;
  s: number;
}

/** Every (layer, route, KPI) whose series has a significant, material change point, strongest first. */
export async function detect(o: DiagnoseOptions): Promise<Anomaly[]> {
  const db = o.database;
  const at =
    o.at ??
    Number(
      (
        await queryRows<{ t: number }>(
          o.client,
          `SELECT toUnixTimestamp(max(Minute)) AS t FROM ${db}.mp_sli_1m`,
          {},
        )
      )[0]?.t ?? 0,
    ) * 1000;
  const from = at - (o.lookbackMinutes ?? 60) * MINUTE;
  const series = await queryRows<SeriesRow>(
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
  // the same minutes per localizable dimension value (a problem confined to one segment moves the total little)
  const dims = CUBE_DIMENSIONS.filter((d) => d.localize);
  const segRows = await queryRows<SeriesRow & { dim: string; value: string }>(
    o.client,
    `SELECT Layer AS layer, Route AS route, toUnixTimestamp(Minute) * 1000 AS t, d.1 AS dim, d.2 AS value,
            sum(Requests) AS n, sum(Errors) AS e, sum(Slow) AS s
       FROM ${db}.mp_sli_1m
      ARRAY JOIN arrayZip([${dims.map((d) => `'${d.attribute}'`).join(', ')}], [${dims.map((d) => d.column).join(', ')}]) AS d
      WHERE Minute >= toDateTime({from:UInt32}) AND Minute <= toDateTime({at:UInt32})
        AND Route != '' AND Layer IN {layers:Array(String)} AND d.2 != ''
        AND ({route:String} = '' OR Route = {route:String})
      GROUP BY layer, route, t, dim, value`,
    { from: Math.floor(from / 1000), at: Math.floor(at / 1000), route: o.route ?? '', layers: LAYERS },
  );
  const kpis: Kpi[] = o.kpi ? [o.kpi] : ['error_rate', 'slow_ratio'];
  const found: Anomaly[] = [];
  for (const [key, points] of groups) {
    const times = points.map((p) => p.t);
    const index = new Map(times.map((t, i) => [t, i]));
    const segs = new Map<string, { where: Record<string, string>; rows: SeriesRow[] }>();
    for (const r of segRows) {
      if (`${r.layer}\u0000${r.route}` !== key) continue;
      const k = `${r.dim}\u0000${r.value}`;
      let sg = segs.get(k);
      if (!sg) {
        sg = {
          where: { [r.dim]: r.value },
          rows: times.map((t) => ({ ...points[0]!, t, n: 0, e: 0, s: 0 })),
        };
        segs.set(k, sg);
      }
      const i = index.get(Number(r.t));
      if (i !== undefined)
        sg.rows[i] = { ...r, t: Number(r.t), n: Number(r.n), e: Number(r.e), s: Number(r.s) };
    }
    for (const kpi of kpis) {
      const bad = (r: SeriesRow) => (kpi === 'slow_ratio' ? r.s : r.e);
      const series = (rs: SeriesRow[]) => rs.map((r) => ({ t: r.t, n: r.n, bad: bad(r) }));
      // z ≥ 5 because every onset was tried (a scan, not one test); and an effect worth waking someone
      // for: errors up half a percentage point (the seed's 400-ratio threshold), slow requests up five
      // (a p95 latency objective breached), volume up half as much again. Three minutes of history are
      // enough to compare with (an onset 4 minutes into the data is found).
      const cp = detectSeries(
        series(points),
        [...segs.values()].map((sg) => ({ where: sg.where, points: series(sg.rows) })),
        {
          volume: kpi === 'volume',
          minExcess: kpi === 'volume' ? undefined : (o.minExcess?.[kpi] ?? MIN_EXCESS[kpi]),
        },
      );
      if (!cp) continue;
      found.push({
        layer: points[0]!.layer,
        route: points[0]!.route,
        kpi,
        onsetMs: points[cp.k]!.t,
        atMs: at,
        z: cp.z,
        baselineRate: cp.p0,
        windowRate: cp.pw,
        ...(cp.series === 'total' ? {} : { series: cp.series }),
      });
    }
  }
  return found.sort((x, y) => y.z - x.z);
}

export async function localize(o: DiagnoseOptions, a: Anomaly): Promise<Culprit[]> {
  return (await localizeSet(o, a)).culprits;
}

/** The root-cause set and ranked culprits of one anomaly, from the cube's leaves (the shared core). */
export async function localizeSet(
  o: DiagnoseOptions,
  a: Anomaly,
): Promise<{ set: Culprit[]; culprits: Culprit[] }> {
  const db = o.database;
  const dims = localizableDimensions(a.layer);
  if (dims.length === 0) return { set: [], culprits: [] };
  const badColumn = a.kpi === 'slow_ratio' ? 'Slow' : 'Errors';
  const measure = a.kpi === 'volume' ? 'Requests' : badColumn;
  const baselineFrom = Math.max(a.onsetMs - (o.lookbackMinutes ?? 60) * MINUTE, 0);
  const windowMinutes = Math.max(1, (a.atMs - a.onsetMs) / MINUTE + 1);
  const baselineMinutes = Math.max(1, (a.onsetMs - baselineFrom) / MINUTE);
  const leaves = (
    await queryRows<Record<string, string | number>>(
      o.client,
      `SELECT ${dims.map((d, i) => `${d.column} AS d${i}`).join(', ')},
              sumIf(Requests, Minute >= toDateTime({onset:UInt32})) AS nw,
              sumIf(${measure}, Minute >= toDateTime({onset:UInt32})) AS bw,
              sumIf(Requests, Minute < toDateTime({onset:UInt32})) AS nb,
              sumIf(${measure}, Minute < toDateTime({onset:UInt32})) AS bb
         FROM ${db}.mp_sli_1m
        WHERE Layer = {layer:String} AND Route = {route:String}
          AND Minute >= toDateTime({from:UInt32}) AND Minute <= toDateTime({at:UInt32})
        GROUP BY ${dims.map((_, i) => `d${i}`).join(', ')}`,
      {
        layer: a.layer,
        route: a.route,
        onset: Math.floor(a.onsetMs / 1000),
        from: Math.floor(baselineFrom / 1000),
        at: Math.floor(a.atMs / 1000),
      },
    )
  ).map((r) => ({
    values: dims.map((_, i) => String(r[`d${i}`])),
    nw: Number(r.nw),
    bw: Number(r.bw),
    nb: Number(r.nb),
    bb: Number(r.bb),
  }));
  const volume = a.kpi === 'volume';
  const cells: LeafCell[] = volume
    ? leaves.map((l) => ({
        values: l.values,
        n: l.bw,
        obs: l.bw,
        exp: (l.nb / baselineMinutes) * windowMinutes,
      }))
    : rateCells(leaves);
  const loc = localizeCells(
    cells,
    dims.map((d) => d.attribute),
    {
      mode: volume ? 'count' : 'rate',
      direction: 1,
      maxDimensions: o.maxDimensions ?? 3,
      top: o.top ?? 5,
    },
  );
  const toCulprit = (s: SegmentEvidence): Culprit => ({
    where: s.where,
    score: s.score,
    inSet: s.inSet,
    inside: volume
      ? { requests: s.obs, bad: s.obs, rate: s.obs / windowMinutes, baselineRate: s.exp / windowMinutes }
      : {
          requests: s.n,
          bad: s.obs,
          rate: s.n > 0 ? s.obs / s.n : 0,
          baselineRate: s.n > 0 ? s.exp / s.n : 0,
        },
    outside: {
      requests: s.outside.n,
      bad: s.outside.obs,
      rate: volume ? s.outside.obs / windowMinutes : s.outside.n > 0 ? s.outside.obs / s.outside.n : 0,
    },
    explains: s.explains,
  });
  return { set: loc.set.map(toCulprit), culprits: loc.culprits.map(toCulprit) };
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
    await queryRows<{ status: number; errorType: string; appErrorCode: string; requests: number }>(
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
  if (!strongest) return { set: [], culprits: [], codes: [], elapsedMs: Date.now() - started };
  // The same route and KPI usually deviates in several layers at once (a 400 shows in the client's span
  // and in the server's). Localize in each and keep the layer whose best combination explains it best:
  // client spans carry the fingerprint, backend spans the node.
  let anomaly = strongest;
  let culprits: Culprit[] = [];
  let set: Culprit[] = [];
  for (const a of anomalies.filter((x) => x.route === strongest.route && x.kpi === strongest.kpi)) {
    const found = await localizeSet(o, a);
    if (found.culprits[0] && (!culprits[0] || found.culprits[0].score > culprits[0].score)) {
      anomaly = a;
      culprits = found.culprits;
      set = found.set;
    }
  }
  const { verdict, codes } = await layerVerdict(o, anomaly, culprits[0]);
  return { anomaly, set: set.map((c) => c.where), culprits, verdict, codes, elapsedMs: Date.now() - started };
}

export function formatDiagnosis(d: Diagnosis): string {
  if (!d.anomaly) return 'diagnose: no anomaly on any catalog route in the window';
  const a = d.anomaly;
  const pct = (x: number) => (a.kpi === 'volume' ? x.toFixed(1) : `${(100 * x).toFixed(2)}%`);
  const lines = [
    `anomaly: ${a.route} (${a.layer}) ${a.kpi.replace('_', ' ')} ${pct(a.baselineRate)} → ${pct(a.windowRate)} since ${new Date(a.onsetMs).toISOString()} (z=${a.z.toFixed(1)}${
      a.series
        ? `, in ${Object.entries(a.series)
            .map(([k, v]) => `${k}=${v}`)
            .join(' AND ')}'s series`
        : ''
    })`,
    (d.set?.length ?? 0) > 1
      ? `root cause: ${d.set!.length} combinations together: ${d
          .set!.map(
            (w) =>
              `{${Object.entries(w)
                .map(([k, v]) => `${k}=${v}`)
                .join(' AND ')}}`,
          )
          .join(' + ')}`
      : '',
    'culprits (the root-cause set, marked *, then alternatives):',
    ...d.culprits.map(
      (c, i) =>
        `  ${i + 1}.${c.inSet ? '*' : ' '} ${Object.entries(c.where)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ' AND ',
          )}  score=${c.score.toFixed(1)}  ${a.kpi === 'volume' ? 'per minute' : 'rate'} ${pct(c.inside.rate)} inside (baseline ${pct(c.inside.baselineRate)}) vs ${pct(c.outside.rate)} outside; explains ${(100 * c.explains).toFixed(0)}% of the excess; ${Math.round(c.inside.bad)}/${Math.round(c.inside.requests)} requests`,
    ),
  ].filter((l) => l !== '');
  if (d.codes.length)
    lines.push(
      `codes inside: ${d.codes.map((c) => `${c.status || c.errorType}${c.appErrorCode ? ` ${c.appErrorCode}` : ''} ×${Math.round(c.requests)}`).join(', ')}`,
    );
  if (d.verdict) lines.push(`layer: ${d.verdict.layer} — ${d.verdict.reason}`);
  lines.push(`(${d.elapsedMs} ms)`);
  return lines.join('\n');
}
