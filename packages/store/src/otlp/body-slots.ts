// Request bodies for the conversion thread, in SharedArrayBuffers both threads hold. The receiver copies a
// trace request's body into a free slot (the copy it made anyway to join the socket's chunks) and posts the
// slot's number; the thread reads the body there. A slot's buffer crosses to a thread once, not per
// request: every ArrayBuffer that crosses (or is allocated) counts as new external memory to V8 until its
// next full collection, and a megabyte a request of it made the main thread mark its whole heap several
// times a second at full ingest. A slot is reused once its request is done with the body.
// - Capacities are powers of two from 64 KiB to maxSlotBytes; a larger body, or one arriving when the slots
//   in use already hold maxBytes, is not given a slot (the caller transfers an ArrayBuffer instead).
// - Free slots are kept (that is the point): after a burst the pool stays at most maxBytes.

export interface BodySlot {
  /** the slot's number, the same in both threads */
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  /** the whole slot, for the main thread's copies */
  readonly view: Buffer;
}

const MIN_SLOT = 64 * 1024;

export class BodySlots {
  private readonly free = new Map<number, BodySlot[]>();
  private seq = 0;
  /** bytes of every slot made (free or in use) */
  bytes = 0;

  constructor(
    readonly maxBytes = 32 * 1024 * 1024,
    readonly maxSlotBytes = 4 * 1024 * 1024,
  ) {}

  /** A free slot of at least `n` bytes, or undefined (too large, or the pool is at maxBytes). */
  acquire(n: number): BodySlot | undefined {
    if (n > this.maxSlotBytes) return undefined;
    let cap = MIN_SLOT;
    while (cap < n) cap *= 2;
    const reused = this.free.get(cap)?.pop();
    if (reused) return reused;
    if (this.bytes + cap > this.maxBytes) return undefined;
    this.bytes += cap;
    const sab = new SharedArrayBuffer(cap);
    return { id: ++this.seq, sab, view: Buffer.from(sab) };
  }

  /** Gives a slot back once nothing reads its body any more. */
  release(slot: BodySlot): void {
    const cap = slot.sab.byteLength;
    const list = this.free.get(cap);
    if (list) list.push(slot);
    else this.free.set(cap, [slot]);
  }
}
