// Source maps end to end: a small app minified with a map, an error thrown from the minified code inside
// the mini-program vm realm and captured by the real SDK, stored by the embedded store (chDB); the maps
// uploaded with `mp-otel sourcemaps upload`; `mp-otel symbolicate` prints the original function, file,
// line and column; the store's symbolication fills mp_symbolicated_stacks and the exceptions dashboard's
// top errors show the original location.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { startConsole } from '@mp-otel/console';
import { loadCatalog } from '@mp-otel/contracts';
import { createWx, loadMiniProgramSdk } from '@mp-otel/devkit';
import { renderReport } from '@mp-otel/diagnose';
import { buildDashboards, runDashboard } from '@mp-otel/grafana';
import { directoryStore, symbolicatePending } from '@mp-otel/sourcemaps';
import { defaultCatalogPath, type Embedded, startEmbedded } from '@mp-otel/store';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { main } from '../src/cli.js';
import { mapsDir, sqlClient } from '../src/sourcemap-commands.js';

const root = mkdtempSync(join(tmpdir(), 'mp-otel-maps-'));
const dataDir = join(root, 'data');
const upload = join(root, 'upload');
let emb: Embedded;

beforeAll(async () => {
  emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
});
afterAll(async () => {
  await emb?.close();
  rmSync(root, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    return { code: await main(args), out };
  } finally {
    spy.mockRestore();
  }
}

test('an exception from minified code: uploaded maps symbolicate it on the command line and on the dashboard', async () => {
  // the app, built as WeChat DevTools would ship it: one minified app-service.js, its map exported apart
  mkdirSync(join(upload, '__APP__'), { recursive: true });
  await esbuild.build({
    entryPoints: [new URL('./fixtures/shop/cart.ts', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'cjs',
    target: 'es2017',
    sourcemap: 'external',
    outfile: join(upload, '__APP__', 'app-service.js'),
    logLevel: 'silent',
  });
  const appService = readFileSync(join(upload, '__APP__', 'app-service.js'), 'utf8');
  rmSync(join(upload, '__APP__', 'app-service.js')); // only maps are uploaded

  // on the phone: the SDK and the app in one bare realm; the app's error is captured
  const { wx, control } = createWx({ fingerprint: { appVersion: '2.0.1' } });
  const { sdk, realm } = loadMiniProgramSdk(wx);
  const otel = sdk.init({ serviceName: 'shop-mp', endpoint: emb.otlpUrl, batch: { delayMs: 10 } });
  const app = { exports: {} as any };
  vm.compileFunction(appService, ['module', 'exports'], {
    filename: 'https://usr/app-service.js',
    parsingContext: realm.context,
  })(app, app.exports);
  try {
    app.exports.checkout([]);
  } catch (e) {
    otel.captureException(e);
  }
  await otel.flush();
  await otel.shutdown();
  control.kill();
  realm.dispose();
  await emb.flush();
  const stored = await (
    await emb.client.query({
      query:
        "SELECT LogAttributes['exception.stacktrace'] AS stack FROM otel_logs WHERE EventName = 'exception'",
      format: 'JSONEachRow',
    })
  ).json<{ stack: string }>();
  expect(stored).toHaveLength(1);
  const stack = stored[0]!.stack;
  expect(stack).toMatch(/at \S+ \(https:\/\/usr\/app-service\.js:1:\d+\)/);

  // the maps go into the data directory
  const up = await cli(['sourcemaps', 'upload', '--release', '2.0.1', '--data-dir', dataDir, upload]);
  expect(up.code).toBe(0);
  expect(up.out).toContain('uploaded 1 map(s) for release 2.0.1: __APP__/app-service.js');

  // mp-otel symbolicate: one line per frame, original function and file:line:column
  const printed = execFileSync(
    process.execPath,
    [
      new URL('../bin/mp-otel.mjs', import.meta.url).pathname,
      'symbolicate',
      '--release',
      '2.0.1',
      '--data-dir',
      dataDir,
    ],
    { input: stack, encoding: 'utf8' },
  );
  expect(printed).toMatch(/^ {4}at checkout \(.*fixtures\/shop\/cart\.ts:6:11\)$/m);
  expect(printed).not.toMatch(/app-service\.js/);

  // what `mp-otel up` does every few seconds with its data directory's maps
  const pending = await symbolicatePending(sqlClient(emb.client), directoryStore(mapsDir(dataDir)), {
    database: emb.database,
  });
  expect(pending).toEqual({ symbolicated: 1, withoutMaps: 0 });
  const again = await symbolicatePending(sqlClient(emb.client), directoryStore(mapsDir(dataDir)), {
    database: emb.database,
  });
  expect(again.symbolicated).toBe(0); // done once

  const exceptions = buildDashboards(loadCatalog(defaultCatalogPath())).find(
    (d) => d.uid === 'mp-exceptions',
  )!;
  // up to a minute ahead: $__timeFilter has Grafana's whole-second bounds, and the exception may be from
  // the current second on a fast machine
  const results = await runDashboard(exceptions, {
    client: emb.client,
    throwOnError: true,
    to: Date.now() + 60_000,
  });
  const top = results.find((r) => r.title === 'Top errors by location (symbolicated)')!;
  expect(top.rows).toHaveLength(1);
  expect(top.rows[0]).toMatchObject({ type: 'RangeError', sample_message: 'empty cart', symbolicated: 1 });
  expect(String(top.rows[0]!.location)).toMatch(/^checkout \(.*fixtures\/shop\/cart\.ts:6:11\)$/);

  // the incident report lists the window's exceptions with their stacks in original sources
  const [{ t }] = (await (
    await emb.client.query({
      query: 'SELECT toUnixTimestamp64Milli(max(Timestamp)) AS t FROM otel_logs',
      format: 'JSONEachRow',
    })
  ).json()) as [{ t: string }];
  const at = Number(t);
  const html = await renderReport({
    client: emb.client,
    database: emb.database,
    diagnosis: {
      anomaly: {
        layer: 'client',
        route: 'checkout',
        kpi: 'error_rate',
        onsetMs: at - 60_000,
        atMs: at,
        z: 5,
        baselineRate: 0,
        windowRate: 1,
      },
      culprits: [],
      codes: [],
      elapsedMs: 0,
    },
  });
  const section = html.slice(html.indexOf('<h2>Exceptions in the window</h2>'));
  expect(section).toContain('<code>RangeError</code>: empty cart ×1');
  expect(section).toMatch(/at <code>checkout \(.*fixtures\/shop\/cart\.ts:6:11\)<\/code>/);
  expect(section).not.toContain('app-service.js');
  expect(section).not.toContain('no source map uploaded');

  // and the console's exceptions view says where it was thrown, in original sources
  const con = await startConsole({
    store: emb.store,
    database: emb.database,
    catalog: loadCatalog(defaultCatalogPath()),
    port: 0,
    alerts: false,
  });
  try {
    const api = await fetch(`${con.url}/api/exceptions?from=${at - 3_600_000}&to=${at + 60_000}`);
    expect(api.status).toBe(200);
    const { groups } = (await api.json()) as { groups: Array<Record<string, unknown>> };
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ type: 'RangeError', message: 'empty cart', symbolicated: 1 });
    expect(String(groups[0]!.location)).toMatch(/^checkout \(.*fixtures\/shop\/cart\.ts:6:11\)$/);
  } finally {
    await con.close();
  }
});

test('sourcemaps commands refuse what they cannot do, with a message', async () => {
  await expect(cli(['sourcemaps', 'upload', upload])).rejects.toThrow(/--data-dir DIR .* or --url URL/);
  await expect(cli(['sourcemaps', 'upload', '--data-dir', dataDir, upload])).rejects.toThrow(
    /--release VERSION/,
  );
  await expect(cli(['symbolicate', '--data-dir', dataDir])).rejects.toThrow(/--release VERSION is required/);
  const empty = mkdtempSync(join(root, 'empty-'));
  await expect(cli(['sourcemaps', 'upload', '--release', '1', '--data-dir', dataDir, empty])).rejects.toThrow(
    /no \.map files/,
  );
});
