// A local OTLP/HTTP receiver for tests: accepts /v1/traces, /v1/metrics and /v1/logs with JSON bodies
// (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and keeps the decoded requests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
export type KeyValue = { key: string; value: AnyValue };

export function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] =
      v.stringValue ??
      (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
      v.doubleValue ??
      v.boolValue ??
      v;
  }
  return out;
}

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  status: { code?: number; message?: string };
}
export interface LogRecord {
  body: unknown;
  severityText?: string;
  traceId?: string;
  spanId?: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope?: string;
}
export interface HistogramPoint {
  name: string;
  unit?: string;
  attributes: Record<string, unknown>;
  count: number;
  sum?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  resource: Record<string, unknown>;
}

export class OtlpReceiver {
  readonly spans: Span[] = [];
  readonly logs: LogRecord[] = [];
  readonly histograms: HistogramPoint[] = [];
  readonly metricNames = new Set<string>();
  requests = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          if (req.url === '/v1/traces') this.onTraces(body);
          else if (req.url === '/v1/metrics') this.onMetrics(body);
          else if (req.url === '/v1/logs') this.onLogs(body);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private onTraces(body: any): void {
    for (const rs of body.resourceSpans ?? []) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            traceState: s.traceState || undefined,
            name: s.name,
            kind: s.kind,
            attributes: attrs(s.attributes),
            resource,
            status: s.status ?? {},
          });
        }
      }
    }
  }

  private onMetrics(body: any): void {
    for (const rm of body.resourceMetrics ?? []) {
      const resource = attrs(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          this.metricNames.add(m.name);
          for (const p of m.histogram?.dataPoints ?? []) {
            this.histograms.push({
              name: m.name,
              unit: m.unit,
              attributes: attrs(p.attributes),
              count: Number(p.count),
              sum: p.sum,
              bucketCounts: (p.bucketCounts ?? []).map(Number),
              explicitBounds: p.explicitBounds ?? [],
              resource,
            });
          }
        }
      }
    }
  }

  private onLogs(body: any): void {
    for (const rl of body.resourceLogs ?? []) {
      const resource = attrs(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          this.logs.push({
            body: r.body?.stringValue ?? r.body,
            severityText: r.severityText,
            traceId: r.traceId || undefined,
            spanId: r.spanId || undefined,
            attributes: attrs(r.attributes),
            resource,
            scope: sl.scope?.name,
          });
        }
      }
    }
  }

  /** Latest cumulative point of a histogram whose attributes include `match`. */
  histogram(name: string, match: Record<string, unknown>): HistogramPoint | undefined {
    const found = this.histograms.filter(
      (h) => h.name === name && Object.entries(match).every(([k, v]) => h.attributes[k] === v),
    );
    return found[found.length - 1];
  }
}

export { waitFor } from '@mp-otel/devkit';
