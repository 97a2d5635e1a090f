import {
  ATTR_APP_ERROR_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_MP_IMAGE_DIRECTION,
  ATTR_MP_IMAGE_OUTCOME,
  ATTR_MP_IMAGE_SIZE_BUCKET,
  METRIC_MP_IMAGE_TRANSFER_DURATION,
  METRIC_MP_IMAGE_TRANSFER_SIZE,
} from '@mp-otel/contracts/names';
import { type Histogram, type MeterProvider, metrics } from '@opentelemetry/api';
import { state } from './state.js';
import { VERSION } from './version.js';

export type ImageDirection = 'upload' | 'download';
/** success = 2xx/3xx; rejected = 4xx; error = 5xx; aborted = the connection closed before the response ended. */
export type ImageOutcome = 'success' | 'rejected' | 'error' | 'aborted';

/** Metric names (OpenTelemetry naming: dotted, unit in the unit field; owned by @mp-otel/contracts). */
export const METRIC_IMAGE_TRANSFER_DURATION = METRIC_MP_IMAGE_TRANSFER_DURATION;
export const METRIC_IMAGE_TRANSFER_SIZE = METRIC_MP_IMAGE_TRANSFER_SIZE;
/** Attribute names used on both histograms. */
export const ATTR_IMAGE_DIRECTION = ATTR_MP_IMAGE_DIRECTION;
export const ATTR_IMAGE_SIZE_BUCKET = ATTR_MP_IMAGE_SIZE_BUCKET;
export const ATTR_IMAGE_OUTCOME = ATTR_MP_IMAGE_OUTCOME;
export { ATTR_HTTP_ROUTE };

/** Explicit histogram boundaries (advice to the SDK; views may override). */
export const DURATION_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
export const SIZE_BOUNDARIES_BY = [
  1024,
  10 * 1024,
  100 * 1024,
  256 * 1024,
  512 * 1024,
  1024 * 1024,
  2 * 1024 * 1024,
  5 * 1024 * 1024,
  10 * 1024 * 1024,
  25 * 1024 * 1024,
  50 * 1024 * 1024,
];

export interface ImageTransfer {
  direction: ImageDirection;
  /** Bytes transferred (request body for uploads, response body for downloads). */
  bytes: number;
  /** Duration in milliseconds (use this or durationSeconds). */
  durationMs?: number;
  durationSeconds?: number;
  outcome: ImageOutcome;
  /** Route template, e.g. `/images/:id`. */
  route?: string;
  /** Standard error code, when the transfer failed with one. */
  errorCode?: string;
  /** Extra low-cardinality attributes. */
  attributes?: Record<string, string | number | boolean>;
}

const KIB = 1024;
const MIB = 1024 * 1024;

function formatBytes(n: number): string {
  if (n % MIB === 0) return `${n / MIB}MB`;
  if (n % KIB === 0) return `${n / KIB}KB`;
  return `${n}B`;
}

/**
 * Sets the size-bucket thresholds (bytes, ascending). Default [100 KB, 1 MB, 5 MB] (1 KB = 1024 B), giving
 * buckets `<100KB`, `100KB-1MB`, `1MB-5MB`, `>5MB`.
 */
export function setImageSizeBuckets(thresholds: number[]): void {
  if (thresholds.length === 0) throw new Error('at least one size threshold is needed');
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i]!;
    if (!Number.isFinite(t) || t <= 0) throw new Error(`invalid size threshold ${t}`);
    if (i > 0 && t <= thresholds[i - 1]!) throw new Error('size thresholds must be strictly ascending');
  }
  state.sizeThresholds = [...thresholds];
}

export function getImageSizeBuckets(): number[] {
  return [...state.sizeThresholds];
}

/** The bucket label of a size, e.g. `100KB-1MB`. */
export function imageSizeBucket(bytes: number, thresholds: number[] = state.sizeThresholds): string {
  const first = thresholds[0]!;
  if (bytes < first) return `<${formatBytes(first)}`;
  for (let i = 1; i < thresholds.length; i++) {
    if (bytes < thresholds[i]!) return `${formatBytes(thresholds[i - 1]!)}-${formatBytes(thresholds[i]!)}`;
  }
  return `>${formatBytes(thresholds[thresholds.length - 1]!)}`;
}

/** Parses `MP_OTEL_IMAGE_SIZE_BUCKETS` (comma-separated byte counts, or with KB/MB suffixes). */
export function parseSizeBuckets(text: string): number[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(s);
      if (!m) throw new Error(`invalid size bucket threshold: ${s}`);
      const mult = { B: 1, KB: KIB, MB: MIB, GB: 1024 * MIB }[(m[2] ?? 'B').toUpperCase() as 'B'];
      return Math.round(Number(m[1]) * mult);
    });
}

let cachedProvider: MeterProvider | undefined;
let durationHist: Histogram | undefined;
let sizeHist: Histogram | undefined;

function instruments(): { duration: Histogram; size: Histogram } {
  // The metrics API has no proxy provider: instruments made before the SDK registered stay no-ops, so
  // re-create them whenever the global provider changes.
  const provider = metrics.getMeterProvider();
  if (provider !== cachedProvider || !durationHist || !sizeHist) {
    const meter = provider.getMeter('@mp-otel/node', VERSION);
    durationHist = meter.createHistogram(METRIC_IMAGE_TRANSFER_DURATION, {
      description: 'Duration of image uploads and downloads, from request start to response end',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BOUNDARIES_S },
    });
    sizeHist = meter.createHistogram(METRIC_IMAGE_TRANSFER_SIZE, {
      description: 'Bytes of image uploads (request body) and downloads (response body)',
      unit: 'By',
      advice: { explicitBucketBoundaries: SIZE_BOUNDARIES_BY },
    });
    cachedProvider = provider;
  }
  return { duration: durationHist, size: sizeHist };
}

/** Records one image transfer on both histograms. */
export function recordImageTransfer(t: ImageTransfer): void {
  const seconds = t.durationSeconds ?? (t.durationMs ?? 0) / 1000;
  const bytes = Math.max(0, Math.round(t.bytes));
  const attributes: Record<string, string | number | boolean> = {
    ...t.attributes,
    [ATTR_IMAGE_DIRECTION]: t.direction,
    [ATTR_IMAGE_SIZE_BUCKET]: imageSizeBucket(bytes),
    [ATTR_IMAGE_OUTCOME]: t.outcome,
  };
  if (t.route) attributes[ATTR_HTTP_ROUTE] = t.route;
  if (t.errorCode) attributes[ATTR_APP_ERROR_CODE] = t.errorCode;
  const { duration, size } = instruments();
  duration.record(seconds, attributes);
  size.record(bytes, attributes);
}
