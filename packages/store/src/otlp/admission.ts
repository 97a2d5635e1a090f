// The queue's bound checked before a request's body is read, not only after it is converted. At full ingest
// the queue sits at its bound: requests let in while it had room were read and converted, and the ones that
// then no longer fitted were answered 503 — after the work. Measured in the storage bench (8 senders), every
// 503 of its ingest came after conversion: ~300 of ~3 000 requests, a tenth of the conversion thread's work
// thrown away on CPU the INSERT needed. So each request let in reserves the rows it will probably bring,
// estimated from its declared size and the rows per byte of the requests of its kind seen so far, and a
// request whose estimate does not fit beside the queue and the reservations is refused before its body is
// read. The check on the real rows after conversion stays the rule; this only spares work it would discard.

/** Rows per body byte learned from each kind of request (signal, encoding), and the rows reserved. */
export class RowReservations {
  private readonly perByte = new Map<string, number>();
  /** rows reserved by requests let in and not yet queued or refused */
  reserved = 0;

  /**
   * @param maxRows what one request may hold (the receiver's item limit): no estimate is larger, so a
   *   client whose requests pack many rows into few bytes moves the bound for others by at most this much
   */
  constructor(private readonly maxRows: number) {}

  /** The rows a request of `kind` declaring `bytes` will probably bring (0 before any of its kind was seen). */
  estimate(kind: string, bytes: number): number {
    const r = this.perByte.get(kind);
    if (r === undefined || !(bytes > 0)) return 0;
    return Math.min(this.maxRows, Math.ceil(r * bytes));
  }

  /** Learns from a converted request: `rows` from a body of `bytes` (as declared, i.e. as sent). */
  learn(kind: string, bytes: number, rows: number): void {
    if (!(bytes > 0)) return;
    const r = rows / bytes;
    const was = this.perByte.get(kind);
    // a moving average: one odd request moves the estimate a fifth of the way
    this.perByte.set(kind, was === undefined ? r : was + (r - was) / 5);
  }

  /** Reserves `rows`; the returned function gives them back (once, however often it is called). */
  reserve(rows: number): () => void {
    this.reserved += rows;
    let held = rows;
    return () => {
      this.reserved -= held;
      held = 0;
    };
  }
}
