// A trace as a waterfall: spans in tree order (children under their parent, by start), a bar per span on
// the trace's time axis, client → gateway → backend by service and kind. Each row carries data-span-id,
// data-parent-span-id, data-kind, data-service and data-depth.
import { fmtDuration, h, PALETTE } from './dom.js';

export interface WSpan {
  span_id: string;
  parent_span_id: string;
  name: string;
  service: string;
  kind: string;
  layer?: string;
  start_ms: number;
  duration_ms: number;
  status_code: string;
}

export function treeOrder<T extends WSpan>(spans: T[]): Array<{ span: T; depth: number }> {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, T[]>();
  const roots: T[] = [];
  for (const s of spans) {
    if (s.parent_span_id && ids.has(s.parent_span_id)) {
      const list = children.get(s.parent_span_id) ?? [];
      list.push(s);
      children.set(s.parent_span_id, list);
    } else roots.push(s);
  }
  const out: Array<{ span: T; depth: number }> = [];
  const visit = (s: T, depth: number) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.span_id) ?? []).sort((a, b) => a.start_ms - b.start_ms))
      visit(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.start_ms - b.start_ms)) visit(r, 0);
  return out;
}

export function waterfall<T extends WSpan>(
  spans: T[],
  onSelect?: (s: T, row: HTMLElement) => void,
): HTMLElement {
  const ordered = treeOrder(spans);
  const start = Math.min(...spans.map((s) => s.start_ms));
  const end = Math.max(...spans.map((s) => s.start_ms + s.duration_ms));
  const total = Math.max(end - start, 0.001);
  const services = [...new Set(spans.map((s) => s.service))];
  const colorOf = (svc: string) => PALETTE[services.indexOf(svc) % PALETTE.length];
  return h(
    'div',
    { class: 'waterfall' },
    h(
      'div',
      { class: 'wf-head' },
      h('span', { class: 'wf-name' }, `${spans.length} spans · ${services.join(' → ')}`),
      h(
        'span',
        { class: 'wf-axis' },
        h('span', {}, '0'),
        h('span', {}, fmtDuration(total / 2)),
        h('span', {}, fmtDuration(total)),
      ),
    ),
    ordered.map(({ span: s, depth }) => {
      const err = s.status_code === 'Error';
      const row = h(
        'div',
        {
          class: `wf-row${err ? ' wf-error' : ''}`,
          'data-span-id': s.span_id,
          'data-parent-span-id': s.parent_span_id,
          'data-kind': s.kind,
          'data-service': s.service,
          'data-layer': s.layer ?? '',
          'data-depth': depth,
          tabindex: 0,
        },
        h(
          'span',
          { class: 'wf-name', style: `padding-left:${depth * 14}px` },
          h('span', { class: 'wf-svc', style: `border-color:${colorOf(s.service)}` }, s.service),
          ' ',
          h('span', { class: 'wf-kind' }, s.kind),
          ' ',
          s.name,
        ),
        h(
          'span',
          { class: 'wf-track' },
          h('span', {
            class: 'wf-bar',
            style: `left:${(100 * (s.start_ms - start)) / total}%;width:${Math.max((100 * s.duration_ms) / total, 0.3)}%;background:${err ? '#F2495C' : colorOf(s.service)}`,
          }),
          h(
            'span',
            {
              class: 'wf-dur',
              style: `left:${Math.min((100 * (s.start_ms - start + s.duration_ms)) / total, 90)}%`,
            },
            fmtDuration(s.duration_ms),
          ),
        ),
      );
      if (onSelect) {
        row.addEventListener('click', () => onSelect(s, row));
        row.addEventListener('keydown', (e) => {
          if ((e as KeyboardEvent).key === 'Enter') onSelect(s, row);
        });
      }
      return row;
    }),
  );
}
