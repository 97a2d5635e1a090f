// The main thread's side of the conversion thread (convert-worker.ts): posts a trace request's body (in a
// shared slot, body-slots.ts, or transferred, not copied) and resolves with the thread's reply and the body
// (the slot's view, or the transferred body handed back). Requests are
// converted one after another in arrival order. Where no thread can run (the built convert-worker.js is
// missing, or older than the sources next to it: tests run from the TypeScript sources without a build) or
// it died three times, `available` is false and the receiver converts on its main thread, as it did before.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BodySlot, BodySlots } from './body-slots.js';
import { type ConvertReply, type ConvertRequest, transferable } from './convert-protocol.js';

// tests run this module from src/ (TypeScript): the thread runs the built JavaScript (npm test builds first)
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const SCRIPT = fileURLToPath(
  FROM_SOURCES
    ? new URL('../../dist/otlp/convert-worker.js', import.meta.url)
    : new URL('./convert-worker.js', import.meta.url),
);

/**
 * A source file in `sources` changed after `script` was built (an edit not built yet), or undefined: then
 * the thread would run old code while the tests run the new, so the main thread converts instead.
 */
export function changedSinceBuild(script: string, sources: string): string | undefined {
  const built = statSync(script).mtimeMs;
  return readdirSync(sources).find((f) => f.endsWith('.ts') && statSync(join(sources, f)).mtimeMs > built);
}
const MAX_DEATHS = 3;
const EMPTY = Buffer.alloc(0);

export interface Converted {
  reply: ConvertReply;
  body: Buffer;
}

export class TraceConverter {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly pending = new Map<number, (r: Converted | undefined) => void>();
  private deaths = 0;
  private closed = false;
  /** shared slots for the bodies; `given`: those the current thread has been sent */
  readonly slots = new BodySlots();
  private given = new Set<number>();

  constructor(
    enabled: boolean,
    private readonly log: (line: string) => void = () => {},
  ) {
    let why: string | undefined;
    if (!enabled) this.closed = true;
    else if (!existsSync(SCRIPT)) why = `${SCRIPT} is not built`;
    else if (FROM_SOURCES) {
      const changed = changedSinceBuild(SCRIPT, dirname(fileURLToPath(import.meta.url)));
      if (changed) why = `${changed} changed since the build`;
    }
    if (why) {
      this.closed = true;
      this.log(`mp-otel: no conversion thread (${why}): trace requests convert on the main thread`);
    }
  }

  get available(): boolean {
    return !this.closed && this.deaths < MAX_DEATHS;
  }

  /** Requests posted and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Converts on the thread: `body` is the first bytes of `slot` (the caller keeps the slot until it is done
   * with the body), or without a slot it is transferred and handed back. Resolves undefined when the thread
   * died with the request (a transferred body went with it): the receiver answers 503 and the client sends
   * it again.
   */
  convert(
    body: Buffer,
    req: Omit<ConvertRequest, 'id' | 'body'>,
    slot?: BodySlot,
  ): Promise<Converted | undefined> {
    const w = this.start();
    const id = ++this.seq;
    return new Promise((resolve) => {
      if (slot) {
        this.pending.set(id, (r) => resolve(r && { reply: r.reply, body }));
        const first = !this.given.has(slot.id);
        this.given.add(slot.id);
        const msg: ConvertRequest = { id, slot: slot.id, length: body.length, ...req };
        if (first) msg.sab = slot.sab;
        w.postMessage(msg);
        return;
      }
      const ab = transferable(body);
      this.pending.set(id, resolve);
      const msg: ConvertRequest = { id, body: ab, ...req };
      w.postMessage(msg, [ab]);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(SCRIPT);
    this.given = new Set(); // a new thread has none of the slots
    w.unref(); // an idle receiver's thread keeps no process alive
    w.on('message', (r: ConvertReply) => {
      const done = this.pending.get(r.id);
      if (!done) return;
      this.pending.delete(r.id);
      done({ reply: r, body: r.body ? Buffer.from(r.body) : EMPTY });
    });
    const died = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      if (this.closed) return;
      this.deaths++;
      this.log(
        `mp-otel: the conversion thread stopped (${why}); ${this.pending.size} requests answered 503` +
          (this.available ? '' : '; trace requests convert on the main thread from now on'),
      );
      for (const done of this.pending.values()) done(undefined);
      this.pending.clear();
    };
    w.on('error', (e) => died(e.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    for (const done of this.pending.values()) done(undefined);
    this.pending.clear();
    await w?.terminate();
  }
}
