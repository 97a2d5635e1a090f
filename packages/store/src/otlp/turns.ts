// One request decoded per event-loop turn. Decoding is synchronous (~1.3 ms for 512 spans); without turns,
// every request whose body completed in the same poll is decoded back to back, and whatever else the
// process serves meanwhile (the ClickHouse endpoint's queries, other clients' sockets) waits behind all
// of them. With turns, the event loop polls for I/O between two decodes.

export class Turns {
  private readonly waiting: (() => void)[] = [];
  private pumping = false;

  /** Resolves on an event-loop turn of its own: run the synchronous work right after it. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.pumping) {
        this.pumping = true;
        setImmediate(this.pump);
      }
    });
  }

  /** Releases one waiter (its continuation runs right after this callback) and the next one a turn later:
   *  an immediate queued from inside an immediate runs in the loop's next iteration, after its I/O poll. */
  private readonly pump = (): void => {
    this.waiting.shift()?.();
    if (this.waiting.length > 0) setImmediate(this.pump);
    else this.pumping = false;
  };
}
