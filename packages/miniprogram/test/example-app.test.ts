// The example WeChat project's own code (app.js with the one init call, its pages) driven on the shim.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWx, runMiniProgram } from '@mp-otel/devkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startBusinessServer, startOtlpCapture } from './harness.js';

let capture: Awaited<ReturnType<typeof startOtlpCapture>>;
let biz: Awaited<ReturnType<typeof startBusinessServer>>;
beforeAll(async () => {
  capture = await startOtlpCapture();
  biz = await startBusinessServer();
});
afterAll(async () => {
  await capture.close();
  await biz.close();
});

test('examples/wechat-miniprogram: upload then gallery, traced with catalog route names and page routes', async () => {
  const photo = join(mkdtempSync(join(tmpdir(), 'mp-ex-')), 'photo.jpg');
  writeFileSync(photo, Buffer.alloc(10_000, 0xff));
  const { wx, control } = createWx({
    extConfig: { apiBaseUrl: biz.url, otelEndpoint: capture.url },
    media: [photo],
    performance: true,
  });
  const app = runMiniProgram(
    new URL('../../../examples/wechat-miniprogram', import.meta.url).pathname,
    wx,
    control,
    { performance: true },
  );
  try {
    expect(app.app.globalData.otel.tracer).toBeDefined();
    app.page().chooseAndUpload();
    await capture.waitFor(() => app.page().data.status === 'done');
    app.page().openGallery();
    await capture.waitFor(
      () => app.page().route === 'pages/gallery/gallery' && app.page().data.status === 'done',
    );
    app.hide();
    await capture.waitFor(() => capture.spans().filter((s) => s.kind === 3).length === 2);
    const [upload, download] = ['upload.image', 'download.image'].map(
      (r) => capture.spans().find((s) => s.attributes['mp.route_name'] === r)!,
    );
    expect(upload!.name).toBe('POST upload.image');
    expect(upload!.attributes['mp.page.route']).toBe('pages/upload/upload');
    expect(download!.name).toBe('GET download.image');
    expect(download!.attributes['mp.page.route']).toBe('pages/gallery/gallery');
    expect(biz.seen.find((r) => r.url === '/upload')!.headers.traceparent).toContain(upload!.traceId);
    const views = capture
      .spans()
      .filter((s) => s.name === 'page.view')
      .map((s) => s.attributes['mp.page.route']);
    expect(views).toEqual(['pages/upload/upload', 'pages/gallery/gallery']);
  } finally {
    app.kill();
  }
});
