import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  defineErrorCode,
  ERROR_CODES,
  getImageSizeBuckets,
  imageSizeBucket,
  listErrorCodes,
  lookupErrorCode,
  parseSizeBuckets,
  setImageSizeBuckets,
  traceResponseValue,
  VERSION,
} from '../src/index.js';

describe('size buckets', () => {
  it('labels the default buckets', () => {
    expect(getImageSizeBuckets()).toEqual([102400, 1048576, 5242880]);
    expect(imageSizeBucket(0)).toBe('<100KB');
    expect(imageSizeBucket(102399)).toBe('<100KB');
    expect(imageSizeBucket(102400)).toBe('100KB-1MB');
    expect(imageSizeBucket(1048576)).toBe('1MB-5MB');
    expect(imageSizeBucket(5242879)).toBe('1MB-5MB');
    expect(imageSizeBucket(5242880)).toBe('>5MB');
  });
  it('is configurable and validated', () => {
    expect(parseSizeBuckets('50KB, 2MB,10MB')).toEqual([51200, 2097152, 10485760]);
    expect(parseSizeBuckets('1000,1500')).toEqual([1000, 1500]);
    expect(() => parseSizeBuckets('ten')).toThrow();
    expect(() => setImageSizeBuckets([5, 1])).toThrow(/ascending/);
    expect(() => setImageSizeBuckets([])).toThrow();
    expect(imageSizeBucket(60 * 1024, [51200, 2097152])).toBe('50KB-2MB');
    expect(imageSizeBucket(1200, [1000, 1500])).toBe('1000B-1500B');
  });
});

describe('error codes', () => {
  it('has a consistent standard catalog', () => {
    const codes = listErrorCodes();
    expect(codes.length).toBeGreaterThanOrEqual(10);
    for (const c of codes) {
      expect(c.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(c.status).toBeGreaterThanOrEqual(400);
      expect(c.status).toBeLessThan(600);
      expect(c.meaning.length).toBeGreaterThan(5);
    }
    expect(ERROR_CODES.IMAGE_TOO_LARGE).toMatchObject({ status: 413, retryable: false });
    expect(ERROR_CODES.UPLOAD_TRUNCATED).toMatchObject({ status: 400, retryable: true });
    expect(ERROR_CODES.UNSUPPORTED_MEDIA_TYPE!.status).toBe(415);
  });
  it('maps unknown codes to a 500 and accepts service-specific ones', () => {
    expect(lookupErrorCode('NOPE')).toMatchObject({ code: 'NOPE', status: 500 });
    defineErrorCode({
      code: 'QUOTA_EXCEEDED',
      status: 429,
      meaning: 'Daily upload quota used up',
      retryable: false,
    });
    expect(lookupErrorCode('QUOTA_EXCEEDED').status).toBe(429);
    expect(() =>
      defineErrorCode({ code: 'bad-code', status: 400, meaning: 'x', retryable: false }),
    ).toThrow();
    expect(() => defineErrorCode({ code: 'OK_CODE', status: 200, meaning: 'x', retryable: false })).toThrow();
  });
  it('is documented in the package README', () => {
    const doc = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const c of Object.values(ERROR_CODES)) expect(doc).toContain(`\`${c.code}\``);
  });
});

describe('misc', () => {
  it('formats traceresponse as W3C Trace Context Level 2', () => {
    const span = {
      spanContext: () => ({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: 1 }),
    } as never;
    expect(traceResponseValue(span)).toBe(`00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`);
    const invalid = {
      spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
    } as never;
    expect(traceResponseValue(invalid)).toBeUndefined();
  });
  it('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });
});
