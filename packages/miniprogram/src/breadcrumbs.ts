// The last N things that happened before an exception (taps, page views, requests, app show/hide,
// custom events, console lines when asked), attached to each exception record as `mp.breadcrumbs`:
// one string per crumb, oldest first, "-1.234s <category> <message>" relative to the exception.
import { truncate } from './text.js';

export interface Crumb {
  time: number;
  category: string;
  message: string;
}

const MAX_MESSAGE = 200;

export class Breadcrumbs {
  private readonly ring_: Crumb[] = [];
  private next_ = 0;

  constructor(private readonly max_: number) {}

  add(category: string, message: string, time = Date.now()): void {
    if (this.max_ <= 0) return;
    const crumb = { time, category, message: truncate(message, MAX_MESSAGE) };
    if (this.ring_.length < this.max_) this.ring_.push(crumb);
    else this.ring_[this.next_] = crumb;
    this.next_ = (this.next_ + 1) % this.max_;
  }

  /** Oldest first. */
  list(): Crumb[] {
    return this.ring_.length < this.max_
      ? this.ring_.slice()
      : this.ring_.slice(this.next_).concat(this.ring_.slice(0, this.next_));
  }

  /** The crumbs as the exception record carries them, timed relative to `at`. */
  format(at: number): string[] {
    return this.list().map(
      (c) => `-${(Math.max(0, at - c.time) / 1000).toFixed(3)}s ${c.category} ${c.message}`,
    );
  }
}
