// End to end across the two halves of mp-otel: the built mini-program SDK, loaded into a bare vm on the
// devkit's wx shim (real HTTP), calls the image service running under `--import @mp-otel/node/register`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createWx,
  loadMiniProgramSdk,
  type OtlpCapture,
  otlpEnv,
  type RunningService,
  startOtlpCapture,
  startService,
  waitFor,
} from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT = 3;
const SERVER = 2;

describe('mini-program SDK → image service', () => {
  let backend: OtlpCapture;
  let client: OtlpCapture;
  let svc: RunningService;
  let dir: string;

  beforeAll(async () => {
    backend = await startOtlpCapture();
    client = await startOtlpCapture();
    dir = mkdtempSync(join(tmpdir(), 'mp-otel-e2e-'));
    svc = await startService({
      script: 'src/server.js',
      cwd: join(here, '..'),
      env: { ...otlpEnv(backend.url, 'image-service'), STORAGE_DIR: join(dir, 'store') },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a request from the mini-program SDK on its wx shim arrives with the client span as parent and mp.fingerprint on the server span', async () => {
    const { wx, control } = createWx({ fingerprint: { platform: 'ios', SDKVersion: '3.4.10' } });
    const { sdk, realm } = loadMiniProgramSdk(wx);
    const otel = sdk.init({ serviceName: 'demo-mp', endpoint: client.url, batch: { delayMs: 50 } });
    try {
      const photo = join(dir, 'photo.png');
      const bytes = Buffer.alloc(200 * 1024, 5);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
      writeFileSync(photo, bytes);
      const up = await new Promise<any>((resolve) =>
        wx.uploadFile({
          url: `${svc.url}/upload`,
          filePath: photo,
          name: 'file',
          success: resolve,
          fail: resolve,
        }),
      );
      expect(up.statusCode).toBe(201);
      const { url } = JSON.parse(up.data) as { url: string };
      const bad = await new Promise<any>((resolve) =>
        wx.request({
          url: `${svc.url}/upload`,
          method: 'POST',
          data: 'not multipart',
          success: resolve,
          fail: resolve,
        }),
      );
      expect(bad.statusCode).toBe(415);
      const down = await new Promise<any>((resolve) =>
        wx.downloadFile({ url: `${svc.url}${url}`, success: resolve, fail: resolve }),
      );
      expect(down.statusCode).toBe(200);
      await otel.flush();

      await client.waitFor(() => client.spans().filter((s) => s.kind === CLIENT).length >= 3, 15_000);
      const clientSpans = client.spans().filter((s) => s.kind === CLIENT);
      const fingerprint = clientSpans[0]!.resource['mp.fingerprint'];
      expect(typeof fingerprint).toBe('string');
      expect(String(fingerprint).length).toBeGreaterThan(4);

      for (const c of clientSpans) {
        const server = await waitFor(
          () => backend.spans().find((s) => s.kind === SERVER && s.parentSpanId === c.spanId),
          15_000,
          `server span under client span ${c.name} ${c.attributes['mp.request.api']}`,
        );
        expect(server.traceId).toBe(c.traceId);
        expect(server.attributes['mp.fingerprint']).toBe(fingerprint);
      }
      const upClient = clientSpans.find((s) => s.attributes['mp.request.api'] === 'uploadFile')!;
      const upServer = backend.spans().find((s) => s.parentSpanId === upClient.spanId)!;
      expect(upServer.attributes['http.route']).toBe('/upload');
      // The client saw the standard error code the service set.
      const badClient = clientSpans.find((s) => s.attributes['http.response.status_code'] === 415)!;
      expect(badClient.attributes['app.error_code']).toBe('UNSUPPORTED_MEDIA_TYPE');
      const badServer = backend.spans().find((s) => s.parentSpanId === badClient.spanId)!;
      expect(badServer.attributes['app.error_code']).toBe('UNSUPPORTED_MEDIA_TYPE');
    } finally {
      await otel.shutdown?.();
      control.kill();
      realm.dispose();
    }
  });
});
