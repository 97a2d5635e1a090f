// Test harness: the built SDK in a bare vm realm on the wx shim, a real business server and a real OTLP
// receiver, all on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createWx,
  type Fingerprint,
  loadMiniProgramSdk,
  type OtlpCapture,
  startOtlpCapture,
  type WxShimOptions,
  WxStorage,
} from '@mp-otel/devkit';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

/** The app's own backend: answers by path, records what it was sent (headers included). */
export async function startBusinessServer() {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes });
      const path = (req.url ?? '').split('?')[0];
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers,
        });
        res.end(text);
      };
      if (path === '/ok') return json(200, { code: 0, data: 'hello' });
      if (path === '/biz-error') return json(200, { code: 'ORDER_CLOSED' });
      if (path === '/bad') return json(400, { message: 'bad image' }, { 'x-app-error-code': 'IMG_DECODE' });
      if (path === '/boom') return json(503, { message: 'down' });
      if (path === '/slow') return setTimeout(() => json(200, { ok: true }), 1500);
      if (path === '/upload') return json(200, { id: 'img-1', size: bytes });
      if (path === '/download' || path?.startsWith('/images/')) {
        const body = Buffer.alloc(50_000, 7);
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
        return res.end(body);
      }
      json(404, { message: 'no such path' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface AppOptions {
  fingerprint?: Partial<Fingerprint>;
  storage?: WxStorage;
  init?: Record<string, unknown>;
  capture: OtlpCapture;
  performance?: boolean;
  modernInfoApis?: boolean;
  globals?: Record<string, unknown>;
  /** Further wx shim options (cloud, performanceOrigin, …). */
  shim?: WxShimOptions;
}

/** One "launch" of a mini-program: a fresh realm and shim (storage may be carried over). */
export function launchApp(o: AppOptions) {
  const { wx, control, storage } = createWx({
    ...o.shim,
    fingerprint: o.fingerprint,
    storage: o.storage ?? new WxStorage(),
    performance: o.performance,
    modernInfoApis: o.modernInfoApis,
  });
  const { sdk, realm } = loadMiniProgramSdk(wx, o.globals);
  const otel = sdk.init({
    serviceName: 'demo-mp',
    endpoint: o.capture.url,
    batch: { delayMs: 50 },
    ...o.init,
  });
  return {
    wx,
    control,
    storage,
    sdk,
    realm,
    otel,
    /** The app process ends without warning: no more callbacks, no timers. */
    kill() {
      control.kill();
      realm.dispose();
    },
  };
}

/** wx.request as an app would call it, promisified through callbacks (as Taro/uni-app wrappers do). */
export function request(wx: any, options: Record<string, unknown>): Promise<any> {
  return new Promise((resolve) => {
    wx.request({
      ...options,
      success: (res: any) => resolve({ ok: true, res }),
      fail: (err: any) => resolve({ ok: false, err }),
    });
  });
}

export { startOtlpCapture, WxStorage };
