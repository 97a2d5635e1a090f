// The console in a real browser (Debian's Chromium through playwright-core) on the seed incident replayed
// into the embedded store: every panel of the 11 dashboards renders (ok or nodata, never error), nothing
// leaves 127.0.0.1, no console error, screenshots are not blank; the overview shows the 400 spike; the
// incident names the culprit; an exemplar opens its trace with the client span parent of the backend span;
// the trace search finds traces by fingerprint dimension and by trace id; hostile values stay data.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GrafanaDashboard } from '@mp-otel/console';
import { rawRequest } from '@mp-otel/devkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Seeded, seeded, until } from './fixture.js';

const HOSTILE = "3.9.9') OR throwIf(1,'x') OR BaseLibraryVersion IN ('x";
const CULPRIT = 'os.name=ios AND mp.base_library.version=3.5.0';
const shots =
  process.env.MP_OTEL_CONSOLE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'mp-otel-console-shots-'));
let s: Seeded;
let browser: Browser;
const foreign: string[] = [];
const errors: string[] = [];
export const loadTimes: Record<string, number> = {};

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') foreign.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

/** Opens a dashboard and waits until every panel has settled; returns panel id → state. */
async function openDashboard(page: Page, path: string): Promise<Map<number, string>> {
  await page.goto(`${s.con.url}${path}`);
  await page.waitForSelector('.grid[data-loaded="true"], .page-error', { timeout: 120_000 });
  const failed = await page.$('.page-error');
  if (failed) throw new Error(`${path}: ${await failed.textContent()}`);
  const states = await page.$$eval('[data-panel-id]', (els) =>
    els.map(
      (e) => [Number(e.getAttribute('data-panel-id')), e.getAttribute('data-panel-state') ?? ''] as const,
    ),
  );
  return new Map(states);
}

/** Distinct colours in a screenshot (sampled), decoded by the browser itself: a blank page has one or two. */
function colours(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 5) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return seen.size;
  }, png.toString('base64'));
}

function raw(path: string, headers: Record<string, string> = {}, method = 'GET') {
  return rawRequest(`${s.con.url}${path}`, { method, headers });
}

beforeAll(async () => {
  browser = await launchChromium();
  s = await seeded();
}, 900_000); // the simulation waits for the machine-wide simulator lock

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

describe('the console on the seed replay, in Chromium', () => {
  it('renders every panel of every dashboard: ok or nodata, never error; screenshots not blank', {
    timeout: 600_000,
  }, async () => {
    const list = (await (await fetch(`${s.con.url}/api/meta`)).json()) as {
      dashboards: Array<{ uid: string }>;
    };
    expect(list.dashboards.map((d) => d.uid)).toHaveLength(11);
    mkdirSync(shots, { recursive: true });
    const page = await newPage();
    const summary: string[] = [];
    for (const { uid } of list.dashboards) {
      const def = (await (await fetch(`${s.con.url}/api/dashboards/${uid}`)).json()) as GrafanaDashboard;
      const started = performance.now();
      const states = await openDashboard(page, `/d/${uid}`);
      loadTimes[uid] = performance.now() - started;
      // the panels of the one definition, each with a settled state
      expect(
        [...states.keys()].sort((a, b) => a - b),
        uid,
      ).toEqual((def.panels ?? []).map((p) => p.id));
      for (const [id, state] of states)
        expect(['ok', 'nodata'], `${uid} panel ${id}: ${state}`).toContain(state);
      const ok = [...states.values()].filter((x) => x === 'ok').length;
      summary.push(`${uid}: ${ok}/${states.size} ok, ${Math.round(loadTimes[uid]!)} ms`);
      if (uid !== 'mp-exceptions') expect(ok, `${uid}: panels with data`).toBeGreaterThan(0);
      const png = await page.screenshot({ fullPage: true });
      writeFileSync(join(shots, `${uid}.png`), png);
      expect(await colours(page, png), `${uid} screenshot`).toBeGreaterThan(40);
    }
    console.log(`console dashboards on the seed replay:\n  ${summary.join('\n  ')}\n  screenshots: ${shots}`);
    // the trend dashboard's annotation (release markers: the first hour each app version appears)
    await openDashboard(page, '/d/mp-trend');
    const releases = await page.$$eval('[data-panel-id="2"] .annotation', (els) =>
      els.map((e) => e.getAttribute('data-text')),
    );
    expect(new Set(releases)).toEqual(new Set(['release 1.4.1', 'release 1.4.2']));
    const overview = await openDashboard(page, '/d/mp-overview');
    expect([...overview.values()].every((x) => x === 'ok')).toBe(true);
    await page.close();
  });

  it('the overview shows the 400 spike: the 400-ratio stat is red, the routes table has upload.image above 0.5%', async () => {
    const page = await newPage();
    await openDashboard(page, '/d/mp-overview?from=now-6h&to=now');
    const stat = page.locator('[data-panel-id="6"]');
    await expect(stat.locator('h3').textContent()).resolves.toContain('400 ratio');
    const value = Number(await stat.getAttribute('data-value'));
    expect(value).toBeGreaterThan(0.005);
    const bg = await stat.locator('.stat').evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(bg).toBe('rgb(242, 73, 92)'); // Grafana's red: the threshold at 0.5% is crossed
    await openDashboard(page, '/d/mp-overview?from=now-30m&to=now');
    writeFileSync(join(shots, 'mp-overview-30m.png'), await page.screenshot({ fullPage: true }));
    // code errors: the 400-ratio series is flat before the fault and spikes after it
    await openDashboard(page, '/d/mp-code-errors');
    const series = page.locator('.panel', { hasText: '400 ratio p = n400' });
    expect(Number(await series.getAttribute('data-max'))).toBeGreaterThan(0.05);
    expect(await series.locator('canvas').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('the incident: the 400-ratio rule fires on the schedule and the incident page names the culprit', {
    timeout: 180_000,
  }, async () => {
    await until(
      async () =>
        s.con.incidents
          .snapshot()
          .incidents.find((i) => i.rule === 'upload.image: 400 ratio' && i.diagnosis?.culprits.length),
      150_000,
      'the upload.image 400-ratio incident with its diagnosis',
    );
    const page = await newPage();
    await page.goto(`${s.con.url}/incidents`);
    const first = page.locator('.incident').filter({ hasText: 'upload.image: 400 ratio' }).first();
    await first.waitFor();
    expect(await first.locator('.culprit-where').first().textContent()).toBe(CULPRIT);
    expect(await page.locator('tr[data-rule="upload.image: 400 ratio"]').getAttribute('data-state')).toBe(
      'firing',
    );
    const href = await first.locator('a.report-link').getAttribute('href');
    const report = await page.request.get(`${s.con.url}${href}`);
    expect(report.status()).toBe(200);
    expect(await report.text()).toContain(CULPRIT);
    await page.close();
  });

  it('clicking an exemplar opens /trace/<id>: the client span is the parent of the backend span', async () => {
    const page = await newPage();
    // a deep link as Grafana's: the last 30 minutes, one exemplar per minute
    await openDashboard(page, '/d/mp-overview?from=now-30m&to=now&var-route=upload.image');
    expect(
      await page
        .locator('select[data-variable="route"]')
        .evaluate((e) => [...(e as HTMLSelectElement).selectedOptions].map((o) => o.value)),
    ).toEqual(['upload.image']);
    const exemplar = page.locator('[data-panel-id="9"] .exemplar.bad').first();
    await exemplar.waitFor();
    const id = await exemplar.getAttribute('data-trace-id');
    await exemplar.click();
    await page.waitForURL(`**/trace/${id}`);
    await page.waitForSelector('.wf-row');
    const rows = await page.$$eval('.wf-row', (els) =>
      els.map((e) => ({
        id: e.getAttribute('data-span-id'),
        parent: e.getAttribute('data-parent-span-id'),
        kind: e.getAttribute('data-kind'),
        layer: e.getAttribute('data-layer'),
      })),
    );
    const client = rows.find((r) => r.layer === 'client');
    const backend = rows.find((r) => r.layer === 'backend');
    expect(client, JSON.stringify(rows)).toBeDefined();
    expect(backend, JSON.stringify(rows)).toBeDefined();
    expect(client!.kind).toBe('Client');
    expect(backend!.kind).toBe('Server');
    expect(backend!.parent).toBe(client!.id);
    // the span detail: attributes and resource of the selected span
    await page.locator(`.wf-row[data-span-id="${backend!.id}"]`).click();
    await expect(page.locator('.span-detail').textContent()).resolves.toContain('http.route');
    // the same trace in the trace explorer dashboard's traces panel (Grafana's trace view, here a waterfall)
    const states = await openDashboard(page, `/d/mp-traces?var-trace_id=${id}`);
    expect(states.get(2)).toBe('ok');
    const panelRows = await page.$$eval('[data-panel-id="2"] .wf-row', (els) =>
      els.map((e) => [e.getAttribute('data-span-id'), e.getAttribute('data-parent-span-id')]),
    );
    expect(panelRows).toContainEqual([backend!.id, client!.id]);
    await page.close();
  });

  it('the trace search finds traces by fingerprint dimensions and by trace id', async () => {
    const page = await newPage();
    await page.goto(`${s.con.url}/traces?from=now-1h`);
    await page.fill('input[name=os]', 'ios');
    await page.fill('input[name=base_library]', '3.5.0');
    await page.fill('input[name=status]', '400');
    await page.click('form.search button[type=submit]');
    await page.waitForSelector('.results[data-state="ok"]');
    const found = await page.$$eval('.results tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(found.length).toBeGreaterThan(0);
    for (const row of found) {
      expect(row[3]).toBe('400');
      expect(row[7]).toBe('ios');
      expect(row[8]).toBe('3.5.0');
    }
    // by the fingerprint itself, then by trace id
    const fp = found[0]![9]!;
    await page.goto(`${s.con.url}/traces?from=now-1h&fingerprint=${encodeURIComponent(fp)}`);
    await page.waitForSelector('.results[data-state="ok"]');
    const fps = await page.$$eval('.results tbody td:nth-child(10)', (tds) =>
      tds.map((td) => td.textContent),
    );
    expect(new Set(fps)).toEqual(new Set([fp]));
    const traceId = await page.locator('.results tbody tr').first().getAttribute('data-trace-id');
    await page.goto(`${s.con.url}/traces`);
    await page.fill('input[name=trace_id]', traceId!);
    await page.click('form.search button[type=submit]');
    await page.waitForSelector('.results[data-state="ok"]');
    expect(
      await page.$$eval('.results tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-trace-id'))),
    ).toEqual([traceId]);
    await page.close();
  });

  it('exceptions are grouped (count, first/last seen, fingerprints) and link to their trace; logs are searchable', async () => {
    const found = JSON.parse((await raw('/api/traces?from=now-1h&status=400&layer=client')).body)
      .traces as Array<{ trace_id: string }>;
    const traceId = found[0]!.trace_id;
    const spans = JSON.parse((await raw(`/api/traces/${traceId}`)).body).spans as Array<{
      span_id: string;
      layer: string;
    }>;
    const clientSpan = spans.find((x) => x.layer === 'client')!.span_id;
    const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const record = (n: number) => ({
      timeUnixNano: String(BigInt(Date.now() - n * 1000) * 1_000_000n),
      severityText: 'ERROR',
      severityNumber: 17,
      eventName: 'exception',
      body: { stringValue: 'TypeError: cannot read properties of undefined (reading "url")' },
      traceId,
      spanId: clientSpan,
      attributes: [
        str('exception.type', 'TypeError'),
        str('exception.message', '图片上传失败 cannot read properties of undefined'),
        str('exception.stacktrace', 'TypeError: x\n    at upload (app-service.js:1:2345)'),
        { key: 'mp.error.count', value: { intValue: '3' } },
      ],
    });
    const body = {
      resourceLogs: [
        {
          resource: {
            attributes: [
              str('service.name', 'image-miniprogram'),
              str('os.name', 'ios'),
              str('mp.base_library.version', '3.5.0'),
              str('mp.fingerprint', 'fp-test'),
            ],
          },
          scopeLogs: [{ scope: { name: 'test' }, logRecords: [record(5), record(1)] }],
        },
      ],
    };
    const res = await fetch(`${s.emb.otlpUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    await s.emb.flush();
    const page = await newPage();
    await page.goto(`${s.con.url}/exceptions?from=now-1h`);
    await page.waitForSelector('.results[data-state="ok"]');
    const group = page.locator('tr.exception-group', { hasText: '图片上传失败' });
    const cells = await group.locator('td').allTextContents();
    expect(cells.slice(0, 5)).toEqual([
      'TypeError',
      '图片上传失败 cannot read properties of undefined',
      // where it was thrown: the minified first frame (no source map uploaded for this release)
      'at upload (app-service.js:1:2345)',
      '6',
      '2',
    ]);
    expect(await group.locator('td.location').getAttribute('data-symbolicated')).toBe('false');
    expect(cells[7]).toBe('1');
    expect(cells[8]).toBe('ios 3.5.0');
    await group.locator('a.trace-link').click();
    await page.waitForURL(`**/trace/${traceId}`);
    await page.waitForSelector('.wf-row');
    await page.locator(`.wf-row[data-span-id="${clientSpan}"]`).click();
    await expect(page.locator('.span-detail').textContent()).resolves.toContain('图片上传失败');
    // logs: text search, then the same page in Chinese
    await page.goto(`${s.con.url}/logs?from=now-1h&q=${encodeURIComponent('reading "url"')}`);
    await page.waitForSelector('.results[data-state="ok"]');
    expect(await page.locator('.results tbody tr').count()).toBe(2);
    await page.click('header button.lang');
    await page.waitForSelector('header a.active');
    const nav = await page.locator('header a').allTextContents();
    expect(nav).toContain(page.url().includes('/logs') ? '日志' : '');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await page.goto(`${s.con.url}/d/mp-overview`);
    await expect(page.locator('h1').textContent()).resolves.toBe('小程序总览 · Mini-program overview');
    await page.close();
  });

  it('hostile values in the URL stay data: dashboards render, the API answers 4xx or nothing, never runs them', async () => {
    const page = await newPage();
    const h = encodeURIComponent(HOSTILE);
    for (const path of [
      `/d/mp-code-errors?var-base_library=${h}`,
      `/d/mp-traces?var-trace_id=${h}&var-fingerprint=${h}`,
      `/d/mp-route-detail?var-route=${h}`,
    ]) {
      const states = await openDashboard(page, path);
      for (const [id, state] of states) expect(['ok', 'nodata'], `${path} panel ${id}`).toContain(state);
    }
    await page.close();
    const search = await raw(`/api/traces?base_library=${h}&fingerprint=${h}`);
    expect(search.status).toBe(200);
    expect(JSON.parse(search.body).traces).toEqual([]);
    expect((await raw(`/api/traces?trace_id=${h}`)).status).toBe(400);
    expect((await raw(`/api/traces/${h}`)).status).toBe(400);
    expect((await raw(`/api/logs?q=${h}&service=${h}`)).status).toBe(200);
    expect((await raw(`/api/dashboards/mp-overview/panels/1?from=${h}`)).status).toBe(400);
  });

  it('refuses foreign Host (DNS rebinding), foreign Origin, cross-site fetches and writes', async () => {
    const port = new URL(s.con.url).port;
    expect((await raw('/api/meta', { host: `evil.example:${port}` })).status).toBe(403);
    expect((await raw('/', { host: 'evil.example' })).status).toBe(403);
    expect((await raw('/api/meta', { origin: 'http://evil.example' })).status).toBe(403);
    expect((await raw('/api/meta', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await raw('/api/meta', {}, 'POST')).status).toBe(405);
    expect(
      (await raw('/api/meta', { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status,
    ).toBe(200);
  });

  it('no request left 127.0.0.1 and the browser logged no error', () => {
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });
});
