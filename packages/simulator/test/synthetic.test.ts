// A seed-scale replay's generated users must look exactly like real SDK clients to everything downstream:
// for the same phone and the same requests, the real SDK (on the wx shim, against a real HTTP server) and
// the generator must write the same resource and the same span attributes — names and values — apart
// from ids, times and the upload's multipart framing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWx, loadMiniProgramSdk, startOtlpCapture, WxStorage } from '@mp-otel/devkit';

type AttributeValue = unknown;

import { describe, expect, test } from 'vitest';
import { crowdUser, geoRanges, sdkClientSpan, sdkResource, wxFingerprint } from '../src/index.js';

const APP = 'wx5f1c0ffee0ddba11';
const scenario = {
  seed: 3,
  mix: {
    'os.name': { ios: 1, android: 1 },
    'mp.base_library.version': { '3.5.0': 1, '3.4.10': 1 },
    'network.type': { wifi: 1, '4g': 1 },
  },
};

/** OTLP/JSON key-value list → object, as the capture decodes them. */
function decode(list: any[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list)
    out[key] = value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue ?? null;
  return out;
}

describe('generated users', () => {
  test('write the resource and the span attributes the real SDK writes', { timeout: 60_000 }, async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') {
          const body = '{"error":{"code":"UPLOAD_TRUNCATED"}}';
          res.writeHead(400, { 'content-type': 'application/json', 'x-app-error-code': 'UPLOAD_TRUNCATED' });
          res.end(body);
        } else {
          res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '3000' });
          res.end(Buffer.alloc(3000));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const capture = await startOtlpCapture();
    const byGeo = geoRanges();
    try {
      for (const index of [0, 1, 2, 3, 4, 5]) {
        const user = crowdUser(scenario, index, byGeo);
        const { wx, control } = createWx({ storage: new WxStorage(), fingerprint: wxFingerprint(user, APP) });
        const { sdk, realm } = loadMiniProgramSdk(wx);
        const otel = sdk.init({
          serviceName: 'image-miniprogram',
          endpoint: capture.url,
          routes: [
            { name: 'upload.image', method: 'POST', url: /\/upload(\?|$)/ },
            { name: 'download.image', method: 'GET', url: /\/images\/[^/?]+/ },
          ],
          batch: { delayMs: 50 },
        });
        const before = capture.spanCount();
        await new Promise((r) => wx.downloadFile({ url: `${base}/images/abc`, success: r, fail: r }));
        await new Promise((r) =>
          wx.uploadFile({ url: `${base}/upload`, filePath: __filename, name: 'file', success: r, fail: r }),
        );
        control.emit('appHide');
        await otel.flush();
        await capture.waitFor(() => capture.spanCount() >= before + 2);
        const real = capture.spans().slice(before);
        const download = real.find((s) => s.attributes['mp.route_name'] === 'download.image')!;
        const upload = real.find((s) => s.attributes['mp.route_name'] === 'upload.image')!;

        // the resource: everything equal, but the session and device ids (random per install)
        const resource = decode(sdkResource(user, 'session', APP));
        const strip = (r: Record<string, AttributeValue>) => {
          const { 'session.id': s, 'device.id': d, ...rest } = r;
          expect(typeof s).toBe('string');
          expect(typeof d).toBe('string');
          return rest;
        };
        expect(strip(resource), `user ${index}`).toEqual(strip(download.resource));

        const common = {
          traceId: 'a'.repeat(32),
          spanId: 'b'.repeat(16),
          startMs: 1,
          endMs: 2,
          sampled: true,
        };
        const gen = (x: any) =>
          sdkClientSpan({ ...common, weight: 1, networkType: user['network.type'], ...x });
        const d = gen({
          route: 'download.image',
          url: `${base}/images/abc`,
          outcome: 200,
          responseBytes: 3000,
        });
        expect(decode(d.attributes)).toEqual(download.attributes);
        expect([d.name, d.kind, d.status]).toEqual([download.name, download.kind, download.status]);

        const u = gen({
          route: 'upload.image',
          url: `${base}/upload`,
          outcome: 400,
          responseBytes: 37,
          requestBytes: upload.attributes['http.request.body.size'],
          appErrorCode: 'UPLOAD_TRUNCATED',
        });
        expect(decode(u.attributes)).toEqual(upload.attributes);
        expect([u.name, u.kind, u.status.code]).toEqual([upload.name, upload.kind, upload.status.code]);

        await otel.shutdown();
        control.kill();
        realm.dispose();
      }
    } finally {
      await capture.close();
      await new Promise((r) => server.close(r));
    }
  });
});
