// The console's single-page app: routes /, /d/<uid>, /traces, /trace/<id>, /logs, /exceptions,
// /incidents[/<n>]. All state is in the URL (Grafana's deep-link form for dashboards:
// /d/<uid>?from=now-6h&to=now&var-route=upload.image), so every view can be linked and reloaded.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, fmtDuration, fmtNumber, fmtTime, h, num } from './dom.js';
import { currentLang, dashboardTitle, setLang, t } from './i18n.js';
import { type Annotation, type Exemplar, type PanelDef, renderPanel, type Target } from './panels.js';
import { type WSpan, waterfall } from './waterfall.js';

interface Meta {
  dashboards: Array<{ uid: string; title: string; description?: string; tags?: string[] }>;
  routes: string[];
}
interface Variable {
  type: string;
  name: string;
  label?: string;
  multi?: boolean;
  includeAll?: boolean;
  current?: { value?: string | string[] };
}
interface Dashboard {
  uid: string;
  annotations?: { list?: unknown[] };
  title: string;
  description?: string;
  time?: { from: string; to: string };
  panels: PanelDef[];
  templating?: { list: Variable[] };
}

const app = document.getElementById('app')!;
let meta: Meta | undefined;
/** bumps on every navigation so that late responses of a previous page are dropped */
let generation = 0;
let pollTimer: number | undefined;

const RANGES = [
  'now-5m',
  'now-15m',
  'now-1h',
  'now-3h',
  'now-6h',
  'now-12h',
  'now-24h',
  'now-2d',
  'now-7d',
  'now-30d',
];

function navigate(href: string) {
  history.pushState(null, '', href);
  void route();
}

document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a');
  if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const href = a.getAttribute('href');
  if (!href?.startsWith('/') || href.startsWith('/api/')) return;
  e.preventDefault();
  navigate(href);
});
window.addEventListener('popstate', () => void route());

function shell(active: string, ...content: Node[]) {
  const nav = (href: string, key: Parameters<typeof t>[0]) =>
    h('a', { href, class: active === href ? 'active' : '' }, t(key));
  app.replaceChildren(
    h(
      'header',
      {},
      h('a', { href: '/', class: 'brand' }, t('console')),
      nav('/', 'dashboards'),
      nav('/traces', 'traces'),
      nav('/logs', 'logs'),
      nav('/exceptions', 'exceptions'),
      nav('/incidents', 'incidents'),
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          class: 'lang',
          onclick: () => {
            setLang(currentLang() === 'zh' ? 'en' : 'zh');
            void route();
          },
        },
        t('language'),
      ),
    ),
    h('main', {}, ...content),
  );
}

function rangeSelect(q: URLSearchParams, dflt: string, onChange: (from: string) => void) {
  const cur = q.get('from') ?? dflt;
  const opts = RANGES.includes(cur) ? RANGES : [cur, ...RANGES];
  return h(
    'label',
    { class: 'field' },
    h('span', {}, t('range')),
    h(
      'select',
      { name: 'range', onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value) },
      opts.map((r) => {
        const o = h(
          'option',
          { value: r },
          /^\d+$/.test(r) ? fmtTime(Number(r)) : r.replace('now-', 'last '),
        );
        o.selected = r === cur;
        return o;
      }),
    ),
  );
}

function withParams(path: string, q: URLSearchParams) {
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// ── home ──
function home() {
  shell(
    '/',
    h('h1', {}, t('dashboards')),
    h(
      'div',
      { class: 'cards' },
      meta!.dashboards.map((d) =>
        h(
          'a',
          { class: 'card', href: `/d/${d.uid}` },
          h('strong', {}, dashboardTitle(d.uid, d.title)),
          h('p', {}, d.description ?? ''),
          h('code', {}, d.uid),
        ),
      ),
    ),
  );
}

// ── dashboards ──
async function dashboard(uid: string, gen: number) {
  const q = new URLSearchParams(location.search);
  const d = await api<Dashboard>(`/api/dashboards/${encodeURIComponent(uid)}`);
  if (gen !== generation) return;
  const from = q.get('from') ?? d.time?.from ?? 'now-6h';
  const to = q.get('to') ?? 'now';
  const vars = d.templating?.list ?? [];
  const update = (mut: (p: URLSearchParams) => void) => {
    const p = new URLSearchParams(location.search);
    mut(p);
    navigate(withParams(`/d/${uid}`, p));
  };
  const varBar = h('div', { class: 'vars' });
  const grid = h('div', { class: 'grid' });
  shell(
    '/',
    h(
      'div',
      { class: 'dash-head' },
      h('h1', {}, dashboardTitle(d.uid, d.title)),
      h('span', { class: 'spacer' }),
      rangeSelect(q, d.time?.from ?? 'now-6h', (f) =>
        update((p) => {
          p.set('from', f);
          p.set('to', 'now');
        }),
      ),
      h('button', { onclick: () => void route() }, t('refresh')),
    ),
    h('p', { class: 'desc' }, d.description ?? ''),
    varBar,
    grid,
  );
  // variables: dropdowns from the variable queries, text boxes as is
  const common = new URLSearchParams({ from, to });
  const options = vars.some((v) => v.type === 'query')
    ? await api<Record<string, { options: string[] }>>(
        withParams(`/api/dashboards/${uid}/variables`, common),
      ).catch(() => ({}) as Record<string, { options: string[] }>)
    : {};
  if (gen !== generation) return;
  for (const v of vars) {
    const chosen = q.getAll(`var-${v.name}`);
    const label = h('span', {}, v.label ?? v.name);
    if (v.type === 'textbox') {
      const input = h('input', { name: `var-${v.name}`, value: chosen[0] ?? '', size: 34 });
      input.addEventListener('change', () =>
        update((p) => {
          p.delete(`var-${v.name}`);
          if (input.value) p.set(`var-${v.name}`, input.value);
        }),
      );
      varBar.append(h('label', { class: 'field' }, label, input));
      continue;
    }
    const opts = options[v.name]?.options ?? [];
    const cur = chosen.length ? chosen : v.multi ? ['$__all'] : [String(v.current?.value ?? opts[0] ?? '')];
    const sel = h('select', {
      name: `var-${v.name}`,
      'data-variable': v.name,
      multiple: v.multi ? true : undefined,
      size: v.multi ? 1 : undefined,
    });
    const values = [
      ...(v.includeAll ? ['$__all'] : []),
      ...opts,
      ...cur.filter((c) => c !== '$__all' && !opts.includes(c)),
    ];
    for (const o of values) {
      const opt = h('option', { value: o }, o === '$__all' ? t('all') : o);
      opt.selected = cur.includes(o);
      sel.append(opt);
    }
    sel.addEventListener('change', () =>
      update((p) => {
        p.delete(`var-${v.name}`);
        const picked = [...sel.selectedOptions].map((o) => o.value);
        const vals =
          picked.includes('$__all') && picked.length > 1 ? picked.filter((x) => x !== '$__all') : picked;
        for (const x of vals) p.append(`var-${v.name}`, x);
      }),
    );
    varBar.append(h('label', { class: 'field' }, label, sel));
  }
  // panels on Grafana's 24-column grid
  const panelQuery = new URLSearchParams(location.search);
  panelQuery.set('from', from);
  panelQuery.set('to', to);
  // annotations (release markers…) over the dashboard range, drawn on its time series
  const annotations = d.annotations?.list?.length
    ? await api<Annotation[]>(withParams(`/api/dashboards/${uid}/annotations`, panelQuery)).catch(
        () => [] as Annotation[],
      )
    : [];
  if (gen !== generation) return;
  const routes = q.getAll('var-route');
  const exemplarCache = new Map<string, Promise<Exemplar[]>>();
  const exemplarsFor = (range: { from: number; to: number }) => {
    const key = `${range.from}-${range.to}`;
    if (!exemplarCache.has(key)) {
      const p = new URLSearchParams({ from: String(range.from), to: String(range.to) });
      for (const r of routes) p.append('route', r);
      exemplarCache.set(
        key,
        api<{ exemplars: Exemplar[] }>(withParams('/api/exemplars', p))
          .then((r) => r.exemplars)
          .catch(() => []),
      );
    }
    return exemplarCache.get(key)!;
  };
  await Promise.all(
    d.panels.map(async (p) => {
      const body = h('div', { class: 'panel-body' });
      const el = h(
        'section',
        {
          class: `panel panel-${p.type}`,
          'data-panel-id': p.id,
          'data-panel-type': p.type,
          'data-panel-state': 'loading',
          style: `grid-column:${p.gridPos.x + 1} / span ${p.gridPos.w};grid-row:${p.gridPos.y + 1} / span ${p.gridPos.h}`,
        },
        h(
          'h3',
          { title: p.description ?? '' },
          p.title,
          p.timeFrom ? h('span', { class: 'tf' }, ` ${p.timeFrom}`) : null,
        ),
        body,
      );
      body.append(h('div', { class: 'loading' }, t('loading')));
      grid.append(el);
      try {
        const res = await api<{ from: number; to: number; targets: Target[] }>(
          withParams(`/api/dashboards/${uid}/panels/${p.id}`, panelQuery),
        );
        if (gen !== generation) return;
        const wantsExemplars = p.type === 'timeseries' && res.to - res.from <= 2 * 86_400_000;
        const ex = wantsExemplars ? await exemplarsFor(res) : [];
        if (gen !== generation) return;
        el.dataset.panelState = renderPanel(el, body, p, res.targets, res, ex, annotations);
      } catch (e) {
        body.replaceChildren(h('div', { class: 'panel-error' }, `${t('error')}: ${(e as Error).message}`));
        el.dataset.panelState = 'error';
      }
    }),
  );
  if (gen === generation) grid.dataset.loaded = 'true';
}

// ── traces ──
const TRACE_FIELDS: Array<[string, Parameters<typeof t>[0]]> = [
  ['service', 'service'],
  ['route', 'route'],
  ['status', 'status'],
  ['error_type', 'errorType'],
  ['app_error_code', 'appErrorCode'],
  ['os', 'os'],
  ['base_library', 'baseLibrary'],
  ['host_version', 'hostVersion'],
  ['app_version', 'appVersion'],
  ['carrier', 'carrier'],
  ['province', 'province'],
  ['fingerprint', 'fingerprint'],
  ['min_ms', 'minMs'],
  ['max_ms', 'maxMs'],
  ['trace_id', 'traceId'],
];

function searchForm(
  path: string,
  q: URLSearchParams,
  fields: Array<[string, Parameters<typeof t>[0]]>,
  dflt: string,
) {
  const form = h('form', { class: 'search' });
  for (const [name, key] of fields)
    form.append(
      h(
        'label',
        { class: 'field' },
        h('span', {}, t(key)),
        h('input', { name, value: q.get(name) ?? '', size: name === 'trace_id' ? 34 : 12 }),
      ),
    );
  form.append(
    rangeSelect(q, dflt, () => undefined),
    h('button', { type: 'submit' }, t('search')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form))
      if (String(v).trim()) p.set(k === 'range' ? 'from' : k, String(v).trim());
    navigate(withParams(path, p));
  });
  return form;
}

async function traces(gen: number) {
  const q = new URLSearchParams(location.search);
  const results = h('div', { class: 'results', 'data-state': 'loading' }, t('loading'));
  shell('/traces', h('h1', {}, t('traces')), searchForm('/traces', q, TRACE_FIELDS, 'now-1h'), results);
  const r = await api<{ traces: Array<Record<string, unknown>> }>(withParams('/api/traces', q));
  if (gen !== generation) return;
  results.replaceChildren(
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            t('start'),
            t('traceId'),
            t('route'),
            t('status'),
            t('errorType'),
            t('duration'),
            t('service'),
            t('os'),
            t('baseLibrary'),
            t('fingerprint'),
          ].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        r.traces.map((x) =>
          h(
            'tr',
            { 'data-trace-id': String(x.trace_id) },
            h('td', {}, fmtTime(num(x.start_ms) ?? 0)),
            h('td', {}, traceLink(String(x.trace_id))),
            h('td', {}, String(x.route ?? '')),
            h('td', { class: (num(x.status) ?? 0) >= 400 ? 'bad' : '' }, String(x.status ?? '')),
            h('td', {}, String(x.error_type ?? '')),
            h('td', { title: `${x.spans ?? ''} spans` }, fmtDuration(num(x.trace_ms ?? x.duration_ms) ?? 0)),
            h('td', {}, (x.services as string[]).join(', ')),
            h('td', {}, String(x.os ?? '')),
            h('td', {}, String(x.base_library ?? '')),
            h('td', {}, String(x.fingerprint ?? '')),
          ),
        ),
      ),
    ),
  );
  results.dataset.state = r.traces.length ? 'ok' : 'nodata';
  results.dataset.count = String(r.traces.length);
  if (!r.traces.length) results.append(h('p', { class: 'nodata' }, t('noData')));
}

interface FullSpan extends WSpan {
  attributes: Record<string, string>;
  resource: Record<string, string>;
  events: Array<[string, string, Record<string, string>]>;
  status_message: string;
}
interface LogRow {
  time_ns: string;
  span_id: string;
  service: string;
  level: string;
  body: string;
  attributes: Record<string, string>;
}

const kv = (o: Record<string, string>) =>
  h(
    'table',
    { class: 'kv' },
    h(
      'tbody',
      {},
      Object.entries(o)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))),
    ),
  );

function logTable(logs: LogRow[]) {
  return h(
    'table',
    { class: 'list logs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [t('time'), t('service'), t('level'), t('body'), t('type'), t('message')].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      logs.map((l) =>
        h(
          'tr',
          { 'data-span-id': l.span_id },
          h('td', {}, fmtTime(Number(BigInt(l.time_ns) / 1_000_000n))),
          h('td', {}, l.service),
          h('td', {}, l.level),
          h('td', {}, l.body),
          h('td', {}, l.attributes['exception.type'] ?? ''),
          h('td', {}, l.attributes['exception.message'] ?? ''),
        ),
      ),
    ),
  );
}

async function trace(id: string, gen: number) {
  const r = await api<{ trace_id: string; spans: Array<Record<string, unknown>>; logs: LogRow[] }>(
    `/api/traces/${encodeURIComponent(id)}`,
  );
  if (gen !== generation) return;
  const spans: FullSpan[] = r.spans.map((s) => ({
    span_id: String(s.span_id),
    parent_span_id: String(s.parent_span_id ?? ''),
    name: String(s.name),
    service: String(s.service),
    kind: String(s.kind),
    layer: String(s.layer ?? ''),
    start_ms: Number(BigInt(String(s.start_ns)) / 1000n) / 1000,
    duration_ms: (num(s.duration_ns) ?? 0) / 1e6,
    status_code: String(s.status_code ?? ''),
    status_message: String(s.status_message ?? ''),
    attributes: s.attributes as Record<string, string>,
    resource: s.resource as Record<string, string>,
    events: (s.events as FullSpan['events']) ?? [],
  }));
  const detail = h('div', { class: 'span-detail' });
  const show = (s: FullSpan, row?: HTMLElement) => {
    for (const x of document.querySelectorAll('.wf-row.selected')) x.classList.remove('selected');
    row?.classList.add('selected');
    const linked = r.logs.filter((l) => l.span_id === s.span_id);
    detail.replaceChildren(
      h('h2', {}, `${s.service} · ${s.name}`),
      h(
        'p',
        {},
        `${s.kind} · ${s.layer || '—'} · ${fmtDuration(s.duration_ms)} · ${s.status_code}${s.status_message ? `: ${s.status_message}` : ''} · span ${s.span_id}`,
      ),
      h('h3', {}, t('attributes')),
      kv(s.attributes),
      h('h3', {}, t('resource')),
      kv(s.resource),
      h('h3', {}, t('events')),
      s.events.length
        ? h(
            'ul',
            {},
            s.events.map(([ns, name, attrs]) =>
              h('li', {}, `${fmtTime(Number(BigInt(ns) / 1_000_000n))} ${name} `, kv(attrs)),
            ),
          )
        : h('p', { class: 'nodata' }, '—'),
      h('h3', {}, t('linkedLogs')),
      linked.length ? logTable(linked) : h('p', { class: 'nodata' }, '—'),
    );
  };
  const wf = spans.length ? waterfall(spans, show) : h('p', { class: 'nodata' }, t('noData'));
  shell(
    '/traces',
    h('h1', {}, `${t('trace')} ${r.trace_id}`),
    h('div', { class: 'trace-view', 'data-trace-id': r.trace_id }, wf, detail),
    h('h2', {}, t('traceLogs')),
    logTable(r.logs),
  );
  const first = spans.find((s) => !spans.some((p) => p.span_id === s.parent_span_id));
  if (first) show(first, document.querySelector(`.wf-row[data-span-id="${first.span_id}"]`) as HTMLElement);
}

// ── logs and exceptions ──
async function logs(gen: number) {
  const q = new URLSearchParams(location.search);
  const results = h('div', { class: 'results', 'data-state': 'loading' }, t('loading'));
  shell(
    '/logs',
    h('h1', {}, t('logs')),
    searchForm(
      '/logs',
      q,
      [
        ['q', 'text'],
        ['service', 'service'],
        ['level', 'level'],
        ['trace_id', 'traceId'],
      ],
      'now-1h',
    ),
    results,
  );
  const r = await api<{ logs: Array<Record<string, unknown>> }>(withParams('/api/logs', q));
  if (gen !== generation) return;
  results.replaceChildren(
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [t('time'), t('service'), t('level'), t('body'), t('type'), t('trace')].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        r.logs.map((l) =>
          h(
            'tr',
            {},
            h('td', {}, fmtTime(num(l.time_ms) ?? 0)),
            h('td', {}, String(l.service)),
            h('td', {}, String(l.level)),
            h('td', {}, String(l.body)),
            h('td', {}, String(l.exception_type ?? '')),
            h('td', {}, l.trace_id ? traceLink(String(l.trace_id), 16) : ''),
          ),
        ),
      ),
    ),
  );
  results.dataset.state = r.logs.length ? 'ok' : 'nodata';
  if (!r.logs.length) results.append(h('p', { class: 'nodata' }, t('noData')));
}

/** A link to a trace's page, its id shown whole or cut to `shown` characters. */
function traceLink(traceId: string, shown?: number): HTMLAnchorElement {
  return h(
    'a',
    { href: `/trace/${traceId}`, class: 'trace-link' },
    shown ? traceId.slice(0, shown) : traceId,
  );
}

async function exceptions(gen: number) {
  const q = new URLSearchParams(location.search);
  const results = h('div', { class: 'results', 'data-state': 'loading' }, t('loading'));
  shell(
    '/exceptions',
    h('h1', {}, t('exceptions')),
    searchForm('/exceptions', q, [['q', 'text']], 'now-6h'),
    results,
  );
  const r = await api<{ groups: Array<Record<string, unknown>> }>(withParams('/api/exceptions', q));
  if (gen !== generation) return;
  results.replaceChildren(
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            t('type'),
            t('message'),
            t('location'),
            t('count'),
            t('records'),
            t('firstSeen'),
            t('lastSeen'),
            t('fingerprints'),
            t('segments'),
            t('trace'),
          ].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        r.groups.map((g) =>
          h(
            'tr',
            { class: 'exception-group' },
            h('td', {}, String(g.type)),
            h('td', {}, String(g.message)),
            h(
              'td',
              { class: 'location', 'data-symbolicated': String(Number(g.symbolicated) > 0) },
              h('code', {}, String(g.location ?? '')),
            ),
            h('td', {}, fmtNumber(num(g.count) ?? 0)),
            h('td', {}, String(g.records)),
            h('td', {}, fmtTime(num(g.first_seen_ms) ?? 0)),
            h('td', {}, fmtTime(num(g.last_seen_ms) ?? 0)),
            h('td', {}, String(g.fingerprints)),
            h('td', {}, (g.segments as string[]).join(', ')),
            h('td', {}, g.trace_id ? traceLink(String(g.trace_id), 16) : ''),
          ),
        ),
      ),
    ),
  );
  results.dataset.state = r.groups.length ? 'ok' : 'nodata';
  if (!r.groups.length) results.append(h('p', { class: 'nodata' }, t('noData')));
}

// ── incidents ──
interface Culprit {
  where: Record<string, string>;
  score: number;
  inside: { requests: number; bad: number; rate: number; baselineRate: number };
  outside: { requests: number; bad: number; rate: number };
  explains: number;
}
interface Incident {
  id: number;
  rule: string;
  route: string;
  severity: string;
  firedAt: number;
  resolvedAt?: number;
  value: number;
  threshold: number;
  diagnosis?: {
    anomaly?: {
      layer: string;
      route: string;
      kpi: string;
      onsetMs: number;
      baselineRate: number;
      windowRate: number;
      z: number;
    };
    culprits: Culprit[];
    verdict?: { layer: string; reason: string };
    codes: Array<{ status: number; errorType: string; appErrorCode: string; requests: number }>;
  };
}
interface Snapshot {
  evaluatedAt?: number;
  at?: number;
  intervalMs: number;
  error?: string;
  rules: Array<{
    rule: string;
    route: string;
    severity: string;
    state: string;
    since: number;
    value: number;
    threshold: number;
  }>;
  incidents: Incident[];
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const where = (c: Culprit) =>
  Object.entries(c.where)
    .map(([k, v]) => `${k}=${v}`)
    .join(' AND ');
const ruleValue = (rule: string, v: number) => (/ratio/.test(rule) ? pct(v) : fmtNumber(v));

function incidentDetail(i: Incident) {
  const d = i.diagnosis;
  return h(
    'article',
    { class: 'incident', 'data-incident-id': i.id },
    h(
      'h2',
      {},
      `#${i.id} ${i.rule}`,
      h('span', { class: `badge ${i.resolvedAt ? 'ok' : 'firing'}` }, i.resolvedAt ? 'resolved' : 'FIRING'),
    ),
    h(
      'p',
      {},
      `${t('firedAt')} ${fmtTime(i.firedAt)}${i.resolvedAt ? ` · ${t('resolvedAt')} ${fmtTime(i.resolvedAt)}` : ''} · ${t('value')} ${ruleValue(i.rule, i.value)} > ${ruleValue(i.rule, i.threshold)} · `,
      h('a', { href: `/api/incidents/${i.id}/report`, target: '_blank', class: 'report-link' }, t('report')),
    ),
    !d
      ? h('p', {}, t('diagnosing'))
      : h(
          'div',
          { class: 'diagnosis' },
          d.anomaly
            ? h(
                'p',
                {},
                `${t('anomaly')}: ${d.anomaly.route} (${d.anomaly.layer}) ${d.anomaly.kpi.replace('_', ' ')} ${pct(d.anomaly.baselineRate)} → ${pct(d.anomaly.windowRate)} · ${fmtTime(d.anomaly.onsetMs)} · z=${d.anomaly.z.toFixed(1)}`,
              )
            : null,
          h('h3', {}, t('culprits')),
          h(
            'ol',
            { class: 'culprits' },
            d.culprits.map((c) =>
              h(
                'li',
                { class: 'culprit' },
                h('code', { class: 'culprit-where' }, where(c)),
                ` ${t('score')} ${c.score.toFixed(1)} · ${pct(c.inside.rate)} ${t('inside')} (${t('baseline')} ${pct(c.inside.baselineRate)}) vs ${pct(c.outside.rate)} ${t('outside')} · ${t('explains')} ${(100 * c.explains).toFixed(0)}% ${t('ofExcess')} · ${Math.round(c.inside.bad)}/${Math.round(c.inside.requests)}`,
              ),
            ),
          ),
          d.codes.length
            ? h(
                'p',
                {},
                `${t('codesInside')}: ${d.codes.map((c) => `${c.status || c.errorType}${c.appErrorCode ? ` ${c.appErrorCode}` : ''} ×${Math.round(c.requests)}`).join(', ')}`,
              )
            : null,
          d.verdict
            ? h('p', { class: 'verdict' }, `${t('layerVerdict')}: ${d.verdict.layer} — ${d.verdict.reason}`)
            : null,
        ),
  );
}

async function incidents(gen: number, id?: number) {
  const s = await api<Snapshot>('/api/incidents');
  if (gen !== generation) return;
  const status = h(
    'p',
    { class: 'desc' },
    `${t('evaluatedAt')} ${s.evaluatedAt ? fmtTime(s.evaluatedAt) : '—'} · ${t('dataAt')} ${s.at ? fmtTime(s.at) : '—'} · ${t('every')} ${s.intervalMs / 1000} s${s.error ? ` · ${t('error')}: ${s.error}` : ''}`,
  );
  const list = id !== undefined ? s.incidents.filter((i) => i.id === id) : s.incidents;
  shell(
    '/incidents',
    h('h1', {}, t('incidents')),
    status,
    list.length
      ? h('div', { class: 'incidents' }, list.map(incidentDetail))
      : h('p', { class: 'nodata' }, id !== undefined ? t('notFound') : t('noIncidents')),
    h('h2', {}, t('rules')),
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [t('state'), t('rules'), t('route'), t('severity'), t('value'), t('threshold'), t('since')].map(
            (c) => h('th', {}, c),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        s.rules.map((r) =>
          h(
            'tr',
            { 'data-rule': r.rule, 'data-state': r.state },
            h('td', {}, h('span', { class: `badge ${r.state}` }, r.state)),
            h('td', {}, r.rule),
            h('td', {}, r.route),
            h('td', {}, r.severity),
            h('td', {}, ruleValue(r.rule, r.value)),
            h('td', {}, `> ${ruleValue(r.rule, r.threshold)}`),
            h('td', {}, fmtTime(r.since)),
          ),
        ),
      ),
    ),
  );
  // live: the page follows the scheduler
  pollTimer = window.setTimeout(() => {
    if (gen === generation) void incidents(gen, id);
  }, 5000);
}

async function route() {
  const gen = ++generation;
  window.clearTimeout(pollTimer);
  document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
  try {
    meta ??= await api<Meta>('/api/meta');
    const p = location.pathname;
    const d = /^\/d\/([\w-]+)/.exec(p);
    const tr = /^\/trace\/([^/]+)$/.exec(p);
    const inc = /^\/incidents\/(\d+)$/.exec(p);
    if (p === '/' || p === '') home();
    else if (d) await dashboard(d[1]!, gen);
    else if (p === '/traces') await traces(gen);
    else if (tr) await trace(decodeURIComponent(tr[1]!), gen);
    else if (p === '/logs') await logs(gen);
    else if (p === '/exceptions') await exceptions(gen);
    else if (p === '/incidents') await incidents(gen);
    else if (inc) await incidents(gen, Number(inc[1]));
    else shell('', h('h1', {}, t('notFound')));
  } catch (e) {
    if (gen === generation)
      shell('', h('div', { class: 'page-error' }, `${t('error')}: ${(e as Error).message}`));
  }
  if (gen === generation) document.body.dataset.ready = 'true';
}

void route();
