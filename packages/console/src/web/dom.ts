// A few DOM helpers: elements are built with text nodes, never from HTML strings (data is never markup).
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else if (k === 'style') el.setAttribute('style', String(v));
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await res.json().catch(() => ({ error: res.statusText }))) as T & { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? res.statusText);
  return body;
}

/** Numbers arrive as JSON numbers or (64-bit) strings. */
export const num = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

const pad = (n: number) => String(n).padStart(2, '0');
export function fmtTime(ms: number, withDate = true): string {
  const d = new Date(ms);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}` : hms;
}

export function fmtNumber(v: number, unit?: string): string {
  switch (unit) {
    case 'percentunit':
      return `${(v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1)}%`;
    case 'reqps':
      return `${v.toFixed(v < 10 ? 2 : 0)} req/s`;
    case 'ms':
      return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
    default: {
      const a = Math.abs(v);
      if (a >= 1e9) return `${(v / 1e9).toFixed(2)} Bil`;
      if (a >= 1e6) return `${(v / 1e6).toFixed(2)} Mil`;
      if (a >= 1e4) return `${(v / 1e3).toFixed(1)} K`;
      if (Number.isInteger(v)) return String(v);
      return a < 1 ? v.toPrecision(3) : v.toFixed(2);
    }
  }
}

export const fmtDuration = (ms: number) =>
  ms >= 1000
    ? `${(ms / 1000).toFixed(2)} s`
    : ms >= 1
      ? `${ms.toFixed(1)} ms`
      : `${(ms * 1000).toFixed(0)} µs`;

/** Grafana's named colours (the thresholds in the definitions use these names). */
const COLORS: Record<string, string> = {
  green: '#73BF69',
  red: '#F2495C',
  orange: '#FF9830',
  yellow: '#FADE2A',
  blue: '#5794F2',
  purple: '#B877D9',
};
export const color = (name: string) => COLORS[name] ?? name;
export const PALETTE = [
  '#73BF69',
  '#F2CC0C',
  '#8AB8FF',
  '#FF780A',
  '#F2495C',
  '#5794F2',
  '#B877D9',
  '#705DA0',
  '#37872D',
  '#FADE2A',
];
