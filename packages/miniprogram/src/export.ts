// Export through OpenTelemetry's own machinery: OTLPExporterBase + the OTLP/JSON serializers of
// otlp-transformer, over a transport that hands each serialized request to the durable queue.
import type { ExportResult } from '@opentelemetry/core';
import type { IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import { createOtlpNetworkExportDelegate, OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { type ISerializer, JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { OfflineQueue, Signal } from './queue';

/** The shape every exporter here has (SpanExporter, and its log-record twin). */
export interface RecordExporter<T> {
  export(records: T[], resultCallback: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * An OTLP/JSON exporter whose transport is the offline queue. A send "succeeds" once the payload is in
 * the queue: from there the queue owns retries, backoff and Retry-After, across app restarts too.
 */
export function queuedOtlpExporter<T>(
  queue: OfflineQueue,
  signal: Signal,
  priority: number,
): RecordExporter<T> {
  let records = 0;
  const base: ISerializer<any, any> = signal === 'traces' ? JsonTraceSerializer : JsonLogsSerializer;
  // The transport sees bytes only; the serializer runs synchronously just before it, so it can tell
  // the transport how many records the bytes hold (the queue counts losses in records).
  const serializer: ISerializer<any, any> = {
    serializeRequest: (items: T[]) => {
      records = items.length;
      return base.serializeRequest(items);
    },
    deserializeResponse: base.deserializeResponse,
  };
  const transport: IExporterTransport = {
    send: (data: Uint8Array) => {
      // Our TextEncoder shim (the only one in this bundle) hands back the string it encoded.
      queue.push(signal, (data as Uint8Array & { text: string }).text, records, priority, data.length);
      return Promise.resolve({ status: 'success' });
    },
    shutdown: () => {},
  };
  // The delegate's only use of its metrics is startExport(); with no MeterProvider in a mini-program the
  // SDK's self-metrics would be no-ops, so skip ExporterMetrics and its noop meter (~1 KB gz).
  const metrics = { startExport: () => () => {} } as any;
  const delegate = createOtlpNetworkExportDelegate(
    { timeoutMillis: 10_000, concurrencyLimit: 1_000, compression: 'none' },
    serializer,
    metrics,
    transport,
  );
  return new OTLPExporterBase<T[]>(delegate) as RecordExporter<T>;
}

/**
 * Buffers records and exports them in batches: on size, after a delay, or when asked (app hidden).
 * Unlike the browser BatchSpanProcessor it needs no `document` visibility events, and it exports
 * unsampled spans too when told to (errors are always kept).
 */
export class Batcher<T> {
  private buffer_: T[] = [];
  private timer_: any;
  private inFlight_ = new Set<Promise<void>>();

  constructor(
    private readonly exporter_: RecordExporter<T>,
    private readonly onOverflow_: (records: number) => void,
    private readonly maxBatch_ = 100,
    private readonly delayMs_ = 2_000,
    private readonly maxBuffer_ = 1_000,
  ) {}

  add(record: T): void {
    if (this.buffer_.length >= this.maxBuffer_) {
      this.onOverflow_(1);
      return;
    }
    this.buffer_.push(record);
    if (this.buffer_.length >= this.maxBatch_) this.flush();
    else if (!this.timer_) this.timer_ = setTimeout(() => this.flush(), this.delayMs_);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer_);
    this.timer_ = undefined;
    while (this.buffer_.length > 0) {
      const batch = this.buffer_.splice(0, this.maxBatch_);
      const done: Promise<void> = new Promise<void>((resolve) => {
        try {
          this.exporter_.export(batch, () => resolve());
        } catch {
          resolve();
        }
      }).then(() => {
        this.inFlight_.delete(done);
      });
      this.inFlight_.add(done);
    }
    return Promise.all(this.inFlight_).then(() => {});
  }

  async shutdown(): Promise<void> {
    await this.flush();
    await this.exporter_.shutdown();
  }
}
