// SDK internals straight from src: no servers, no vm realm.
import { JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, test } from 'vitest';
import { Breadcrumbs } from '../src/breadcrumbs.js';
import { encodeLogs, encodeSpans, type LogRecordData, nanos, splitPayload } from '../src/otlp.js';
import { epochClock } from '../src/pages.js';
import { backoffMs, parseRetryAfter } from '../src/queue.js';
import { defaultHosts, hostMatcher, serverOf } from '../src/requests.js';
import { DEFAULT_SECRET_PARAMS, scrubUrl } from '../src/scrub.js';
import { truncate, utf8Length } from '../src/text.js';
import { contextWithSpan, type MpSpan, MpTracer, ROOT_CONTEXT } from '../src/tracer.js';

const scrub = (url: string) => scrubUrl(url, DEFAULT_SECRET_PARAMS);

describe('url.full scrubbing', () => {
  test.each([
    // AWS S3 presigned
    [
      'https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261122&X-Amz-Date=20261122T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=FQoG&X-Amz-SignedHeaders=host&X-Amz-Signature=abc123',
      'https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20261122T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=REDACTED&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED',
    ],
    // Tencent COS
    [
      'https://b-125.cos.ap-shanghai.myqcloud.com/a.png?q-sign-algorithm=sha1&q-ak=AKID&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=f00&x-cos-security-token=tok',
      'https://b-125.cos.ap-shanghai.myqcloud.com/a.png?q-sign-algorithm=sha1&q-ak=REDACTED&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=REDACTED&x-cos-security-token=REDACTED',
    ],
    // Alibaba OSS (V1 and V4)
    [
      'https://b.oss-cn-hangzhou.aliyuncs.com/o.jpg?OSSAccessKeyId=LTAI&Expires=1700000000&Signature=s%2Bg&security-token=CAIS',
      'https://b.oss-cn-hangzhou.aliyuncs.com/o.jpg?OSSAccessKeyId=REDACTED&Expires=1700000000&Signature=REDACTED&security-token=REDACTED',
    ],
    [
      'https://b.oss-cn-hangzhou.aliyuncs.com/o.jpg?x-oss-credential=LTAI%2F2026&x-oss-signature=ab&x-oss-date=20261122T000000Z',
      'https://b.oss-cn-hangzhou.aliyuncs.com/o.jpg?x-oss-credential=REDACTED&x-oss-signature=REDACTED&x-oss-date=20261122T000000Z',
    ],
    // Qiniu private download
    [
      'https://cdn.example.com/a.jpg?e=1700000000&token=AK:sig=',
      'https://cdn.example.com/a.jpg?e=1700000000&token=REDACTED',
    ],
    // OAuth code, keys, sessions, contact details
    [
      'https://api.example.com/login?code=071abc&state=x&api_key=k1&apikey=k2&auth=a&sessionid=s1&session_id=s2&email=a%40b.com&user_phone=138&phone_number=139&page=2',
      'https://api.example.com/login?code=REDACTED&state=x&api_key=REDACTED&apikey=REDACTED&auth=REDACTED&sessionid=REDACTED&session_id=REDACTED&email=REDACTED&user_phone=REDACTED&phone_number=REDACTED&page=2',
    ],
    // fragment and userinfo
    [
      'https://user:secret@api.example.com/cb#access_token=eyJx&token_type=bearer',
      'https://REDACTED:REDACTED@api.example.com/cb#access_token=REDACTED&token_type=bearer',
    ],
    ['https://user@api.example.com/x', 'https://REDACTED@api.example.com/x'],
    // personal data in the path
    ['https://api.example.com/users/13812345678/orders', 'https://api.example.com/users/REDACTED/orders'],
    ['https://api.example.com/users/+8613812345678', 'https://api.example.com/users/REDACTED'],
    ['https://api.example.com/u/jane.doe@example.com/profile', 'https://api.example.com/u/REDACTED/profile'],
    [
      'https://api.example.com/s/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_part/x',
      'https://api.example.com/s/REDACTED/x',
    ],
    // what must stay
    ['https://api.example.com/orders/12345678901234567', 'https://api.example.com/orders/12345678901234567'],
    ['https://api.example.com/images/42?size=large#top', 'https://api.example.com/images/42?size=large#top'],
    ['/relative/path?token=t', '/relative/path?token=REDACTED'],
  ])('%s', (url, expected) => {
    expect(scrub(url)).toBe(expected);
  });

  test('a caller list replaces the default', () => {
    expect(scrubUrl('https://a.example.com/?sku=1&token=t', /^sku$/i)).toBe(
      'https://a.example.com/?sku=REDACTED&token=t',
    );
  });
});

describe('strings', () => {
  test('truncation never splits a surrogate pair: an emoji at character 1,024 stays whole or goes', () => {
    const text = `${'x'.repeat(1023)}😀tail`;
    const cut = truncate(text, 1024);
    expect(cut).toBe('x'.repeat(1023));
    expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut); // valid UTF-16 → round-trips
    expect(truncate(`${'x'.repeat(1022)}😀tail`, 1024)).toBe(`${'x'.repeat(1022)}😀`);
    expect(truncate('short', 1024)).toBe('short');
  });

  test('utf8Length agrees with Buffer.byteLength (ASCII, CJK, emoji, lone surrogates)', () => {
    for (const s of ['', 'abc', '中文字符', 'a😀b', '\ud800', 'x\udc00y', `${'é'.repeat(100)}😀\ud83d`]) {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
  });
});

describe('Retry-After and backoff', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  test.each([
    ['120', 120_000],
    [' 2 ', 2_000],
    ['0', 0],
    ['1.5', 1_500],
    ['Sun, 22 Nov 2026 12:00:30 GMT', 30_000],
    ['Sun, 22 Nov 2026 11:00:00 GMT', 0], // in the past
    ['999999', 3_600_000], // capped at an hour
    ['soon', undefined],
    ['-5', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s ms', (value, ms) => {
    expect(parseRetryAfter(value as string | undefined, now)).toBe(ms);
  });

  test('exponential with jitter, capped at 60 s', () => {
    for (let tries = 1; tries <= 12; tries++) {
      const base = Math.min(1000 * 2 ** (tries - 1), 60_000);
      const ms = backoffMs(tries);
      expect(ms).toBeGreaterThanOrEqual(base / 2);
      expect(ms).toBeLessThanOrEqual(base);
    }
  });
});

function pipeline(
  resource: { attributes: Record<string, string> } = { attributes: { 'service.name': 'unit' } },
  ended: MpSpan[] = [],
) {
  return {
    ended,
    tracer: new MpTracer({
      resource: () => resource,
      scope: { name: 'unit', version: '1' },
      ratio: 1,
      onEnd: (s) => ended.push(s),
    }),
  };
}

describe('OTLP/JSON', () => {
  test('spans: the same document OpenTelemetry’s own JsonTraceSerializer writes', () => {
    const { tracer, ended } = pipeline();
    const parent = tracer.startSpan('parent', { kind: 1, startTime: 1_763_812_800_123.5 });
    const child = tracer.startSpan(
      'child',
      { kind: 2, attributes: { s: 'é😀', i: 42, d: 1.5, b: true, a: ['x', 'y'], n: [1, 2] } },
      contextWithSpan(ROOT_CONTEXT, parent),
    );
    child.addEvent('retry', { attempt: 2 }, 1_763_812_800_200);
    child.addLink({ context: parent.spanContext(), attributes: { why: 'follows' } });
    child.setStatus({ code: 2, message: 'boom' });
    child.end(1_763_812_801_000);
    parent.end(1_763_812_802_000);
    const ours = JSON.parse(encodeSpans(ended));
    const theirs = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(ended as any)!));
    expect(ours).toEqual(theirs);
    expect(ours.resourceSpans[0].scopeSpans[0].spans[0].parentSpanId).toBe(parent.spanContext().spanId);
  });

  test('log records: the same document as JsonLogsSerializer', () => {
    const resource = { attributes: { 'service.name': 'unit' } };
    const record: LogRecordData = {
      hrTime: [1_763_812_800, 5],
      hrTimeObserved: [1_763_812_800, 6],
      spanContext: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 },
      severityNumber: 17,
      severityText: 'ERROR',
      body: 'boom',
      eventName: 'exception',
      attributes: { 'exception.type': 'TypeError', 'mp.breadcrumbs': ['-1.000s ui tap onSubmit'] },
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: { name: 'unit', version: '1' },
    };
    const ours = JSON.parse(encodeLogs([record, { ...record, spanContext: undefined }]));
    const theirs = JSON.parse(
      new TextDecoder().decode(
        JsonLogsSerializer.serializeRequest([record, { ...record, spanContext: undefined }] as any)!,
      ),
    );
    expect(ours).toEqual(theirs);
  });

  test('nanosecond timestamps beyond 2^53 are exact', () => {
    expect(nanos([1_763_812_800, 123_456_789])).toBe('1763812800123456789');
    expect(nanos([1_763_812_800, 5])).toBe('1763812800000000005');
  });

  test('payload split: halves keep every record with its resource and scope', () => {
    const r1 = { attributes: { 'session.id': 'one' } };
    const r2 = { attributes: { 'session.id': 'two' } };
    const a = pipeline(r1);
    const b = pipeline(r2, a.ended);
    for (let i = 0; i < 3; i++) a.tracer.startSpan(`a${i}`).end();
    for (let i = 0; i < 2; i++) b.tracer.startSpan(`b${i}`).end();
    const halves = splitPayload('traces', encodeSpans(a.ended))!;
    expect(halves.map((h) => h.records)).toEqual([2, 3]);
    const names = (body: string) =>
      JSON.parse(body).resourceSpans.flatMap((r: any) =>
        r.scopeSpans.flatMap((s: any) =>
          s.spans.map((x: any) => `${r.resource.attributes[0].value.stringValue}:${x.name}`),
        ),
      );
    expect([...names(halves[0]!.body), ...names(halves[1]!.body)]).toEqual([
      'one:a0',
      'one:a1',
      'one:a2',
      'two:b0',
      'two:b1',
    ]);
    expect(splitPayload('traces', encodeSpans(a.ended.slice(0, 1)))).toBeUndefined();
    expect(splitPayload('logs', 'not json')).toBeUndefined();
  });
});

describe('trace context goes only to the app’s own hosts', () => {
  test('hosts: exact, wildcard subdomains, ports ignored', () => {
    const own = hostMatcher(['api.example.com', '*.cdn.example.net', 'localhost:8080']);
    expect(own('api.example.com')).toBe(true);
    expect(own('img.cdn.example.net')).toBe(true);
    expect(own('cdn.example.net')).toBe(true);
    expect(own('localhost')).toBe(true);
    expect(own('evil-api.example.com')).toBe(false);
    expect(own('example.com')).toBe(false);
    expect(own('cdn.example.net.evil.com')).toBe(false);
  });

  test('default: the endpoint’s host and its parent domain', () => {
    expect(defaultHosts('https://otel.example.com')).toEqual(['otel.example.com', '*.example.com']);
    expect(defaultHosts('http://127.0.0.1:4318')).toEqual(['127.0.0.1', '*.127.0.0.1']);
    expect(serverOf('https://u:p@Api.Example.com:8443/x')).toEqual({ host: 'api.example.com', port: 8443 });
    expect(serverOf('wss://ws.example.com/live')).toEqual({ host: 'ws.example.com', port: 443 });
  });
});

describe('performance timestamps on both bases', () => {
  test('epoch milliseconds pass through; runtime-based ones are rebased on the runtime clock', () => {
    const origin = Date.now() - 5_000;
    const toEpoch = epochClock({ now: () => Date.now() - origin });
    expect(toEpoch(1_763_812_800_000)).toBe(1_763_812_800_000);
    expect(Math.abs(toEpoch(1_200) - (origin + 1_200))).toBeLessThanOrEqual(5);
  });

  test('without a runtime clock, the first relative entry is taken to have just ended', () => {
    const toEpoch = epochClock(undefined);
    const before = Date.now();
    const start = toEpoch(300, 900); // started 300 ms, ended 900 ms after the origin
    expect(start).toBeGreaterThanOrEqual(before - 600);
    expect(start).toBeLessThanOrEqual(Date.now() - 600);
  });
});

test('breadcrumbs: a ring of the last N, oldest first, timed relative to the exception', () => {
  const crumbs = new Breadcrumbs(3);
  for (let i = 1; i <= 5; i++) crumbs.add('ui', `tap ${i}`, 1_000 * i);
  expect(crumbs.format(6_000)).toEqual(['-3.000s ui tap 3', '-2.000s ui tap 4', '-1.000s ui tap 5']);
  const none = new Breadcrumbs(0);
  none.add('ui', 'x');
  expect(none.list()).toEqual([]);
});

test('sampling: unsampled spans are recorded; errors among them are exported with weight 1', () => {
  const ended: MpSpan[] = [];
  const tracer = new MpTracer({
    resource: () => ({ attributes: {} }),
    scope: { name: 'u' },
    ratio: 0,
    onEnd: (s) => ended.push(s),
  });
  tracer.startSpan('routine').end();
  const failing = tracer.startSpan('failing');
  failing.setStatus({ code: 2 });
  failing.end();
  expect(ended.map((s) => [s.name, s.attributes['mp.sampling.weight']])).toEqual([['failing', 1]]);
  const quarter = new MpTracer({
    resource: () => ({ attributes: {} }),
    scope: { name: 'u' },
    ratio: 0.25,
    onEnd: () => {},
  });
  expect(quarter.startSpan('w').attributes['mp.sampling.weight']).toBeOneOf([1, 4]);
});

test('every attribute, span and event name the SDK writes is declared in @mp-otel/contracts', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const names = await import('@mp-otel/contracts/names');
  const declared = new Set<string>(
    Object.values(names).flatMap((v) => (Array.isArray(v) ? v : typeof v === 'string' ? [v] : [])),
  );
  const src = new URL('../src/', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(new URL(f, src), 'utf8');
    // attribute keys and span/event names: dotted lower-case literals in setAttribute(s)/objects/startSpan
    for (const m of text.matchAll(
      /'((?:mp|http|url|server|network|exception|user|device|session|faas|error|app|page|script|package|component|os|service|deployment|telemetry)\.[a-z_.]+)'/g,
    ))
      used.add(m[1]!);
  }
  expect(used.size).toBeGreaterThan(40);
  expect([...used].filter((n) => !declared.has(n) && !n.startsWith('mp.dropped.'))).toEqual([]);
});
