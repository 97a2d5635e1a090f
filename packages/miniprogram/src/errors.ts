// Exceptions as OTLP log records (event name `exception`), deduplicated: the first of a run of identical
// errors goes out at once, the repeats within the window go out as one record whose `mp.error.count`
// says how many it stands for. Sizes are capped ("control error-log size" in the seed).
// Each record carries the breadcrumbs (what happened just before) and is linked to the active span.
import type { Attributes } from '@opentelemetry/api';
import type { Breadcrumbs } from './breadcrumbs.js';
import type { LogRecordData } from './otlp.js';
import { truncate } from './text.js';
import { activeContext, type InstrumentationScope, millisToHrTime, type Resource, spanOf } from './tracer.js';

export const SEVERITY_INFO = 9;
export const SEVERITY_WARN = 13;
export const SEVERITY_ERROR = 17;
const MAX_MESSAGE = 1024;
const MAX_STACK = 4096;
const MAX_KEYS = 200;

/** A string for anything an app can throw or reject with: Errors, strings, wx `{ errMsg }`, cycles. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as any;
    if (typeof v.message === 'string') return v.message;
    if (typeof v.errMsg === 'string') return v.errMsg;
    const seen: unknown[] = [];
    try {
      return JSON.stringify(value, (_k, x) => {
        if (x && typeof x === 'object') {
          if (seen.indexOf(x) >= 0) return '[Circular]';
          seen.push(x);
        }
        return x;
      });
    } catch {}
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** exception.type / message / stacktrace from an Error, or from WeChat's onError string. */
export function toException(error: unknown): { type: string; message: string; stacktrace: string } {
  const e = error as any;
  if (e && typeof e === 'object' && typeof e.stack === 'string') {
    return { type: String(e.name || 'Error'), message: describe(e), stacktrace: e.stack };
  }
  const text = describe(error);
  // WeChat reports script errors as "<kind>\n<message>\n<Type>: <message>\n    at …"
  const m = /^\s*([A-Z][\w$]*(?:Error|Exception))\b:?\s*(.*)$/m.exec(text);
  const firstLine = text.split('\n').find((line) => line.trim() !== '') || '';
  return {
    type: m ? m[1]! : 'Error',
    message: (m && m[2]) || firstLine.trim(),
    stacktrace: text.indexOf('\n') >= 0 ? text : '',
  };
}

export interface ErrorReporterOptions {
  /** Rate limit, asked before a record is built (a storm must cost little); false: counted and dropped. */
  admit(): boolean;
  emit(record: LogRecordData): void;
  resource(): Resource;
  scope: InstrumentationScope;
  pageRoute(): string | undefined;
  dedupWindowMs: number;
  breadcrumbs: Breadcrumbs;
}

interface Run {
  record: LogRecordData;
  repeats: number;
}

export class ErrorReporter {
  private runs_ = new Map<string, Run>();
  private timer_: any;

  constructor(private readonly o_: ErrorReporterOptions) {}

  capture(error: unknown, attributes: Attributes = {}): void {
    const ex = toException(error);
    const message = truncate(ex.message, MAX_MESSAGE);
    const key = `${ex.type}|${message}|${ex.stacktrace.split('\n', 3).join('|')}`;
    const run = this.runs_.get(key);
    if (run) {
      run.repeats++;
      return;
    }
    if (!this.o_.admit()) return;
    const at = Date.now();
    const now = millisToHrTime(at);
    const active = spanOf(activeContext());
    const crumbs = this.o_.breadcrumbs.format(at);
    this.o_.breadcrumbs.add('exception', `${ex.type}: ${message}`, at);
    const record: LogRecordData = {
      hrTime: now,
      hrTimeObserved: now,
      spanContext: active && active.spanContext(),
      severityNumber: SEVERITY_ERROR,
      severityText: 'ERROR',
      body: message,
      eventName: 'exception',
      attributes: {
        'exception.type': ex.type,
        'exception.message': message,
        'exception.stacktrace': truncate(ex.stacktrace, MAX_STACK),
        'mp.page.route': this.o_.pageRoute(),
        'mp.error.count': 1,
        'mp.breadcrumbs': crumbs.length ? crumbs : undefined,
        ...attributes,
      },
      droppedAttributesCount: 0,
      resource: this.o_.resource(),
      instrumentationScope: this.o_.scope,
    };
    if (this.runs_.size < MAX_KEYS) this.runs_.set(key, { record, repeats: 0 });
    this.o_.emit(record);
    if (!this.timer_) this.timer_ = setTimeout(() => this.flush(), this.o_.dedupWindowMs);
  }

  /** Emits one record per run of repeats, and starts new windows. */
  flush(): void {
    clearTimeout(this.timer_);
    this.timer_ = undefined;
    const runs = this.runs_;
    this.runs_ = new Map();
    runs.forEach(({ record, repeats }) => {
      if (repeats === 0 || !this.o_.admit()) return;
      const now = millisToHrTime(Date.now());
      this.o_.emit({
        ...record,
        hrTime: now,
        hrTimeObserved: now,
        attributes: { ...record.attributes, 'mp.error.count': repeats },
      });
    });
  }
}
