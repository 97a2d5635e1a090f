// Batching, and the exporter that turns a batch into one OTLP/JSON payload in the offline queue.
import { type EncodableSpan, encodeLogs, encodeSpans, type LogRecordData, type Signal } from './otlp.js';
import type { OfflineQueue } from './queue.js';

/** The shape every exporter here has (OpenTelemetry's SpanExporter, and its log-record twin). */
export interface RecordExporter<T> {
  export(records: T[], resultCallback: (result: { code: number; error?: Error }) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * An OTLP/JSON exporter whose transport is the offline queue. A send "succeeds" once the payload is in
 * the queue: from there the queue owns retries, backoff and Retry-After, across app restarts too.
 */
export function queuedOtlpExporter(
  queue: OfflineQueue,
  signal: Signal,
  priority: number,
): RecordExporter<any> {
  const encode: (records: any[]) => string = signal === 'traces' ? encodeSpans : encodeLogs;
  return {
    export(records: Array<EncodableSpan | LogRecordData>, done) {
      queue.push(signal, encode(records), records.length, priority);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
}

/**
 * Buffers records and exports them in batches: on size, after a delay, or when asked (app hidden).
 * Unlike the browser BatchSpanProcessor it needs no `document` visibility events, and it exports
 * unsampled spans too when told to (errors are always kept). Nothing is exported before `ready`
 * (the device id is read from storage asynchronously and belongs on every record).
 */
export class Batcher<T> {
  private buffer_: T[] = [];
  private timer_: any;
  private inFlight_ = new Set<Promise<void>>();

  constructor(
    private readonly exporter_: RecordExporter<T>,
    private readonly onOverflow_: (records: number) => void,
    private readonly ready_: Promise<unknown>,
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
      const done: Promise<void> = this.ready_
        .then(
          () =>
            new Promise<void>((resolve) => {
              try {
                this.exporter_.export(batch, () => resolve());
              } catch {
                resolve();
              }
            }),
        )
        .then(() => {
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
