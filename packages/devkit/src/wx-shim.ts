// A thin `wx` for running mini-program code in Node: request / uploadFile / downloadFile perform real HTTP
// with WeChat's semantics (success for every HTTP status, `fail` with errMsg on timeout/abort/network,
// a shared limit of 10 concurrent requests, RequestTask/UploadTask/DownloadTask); storage with WeChat's
// quotas (1 MB per key, 10 MB in all) that can outlive an "app restart"; device and app info; lifecycle
// events the test or simulator fires. Nothing here decides what the SDK does: it only answers.
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';

export interface Fingerprint {
  /** getDeviceInfo().platform: ios, android, ohos, windows, mac, devtools */
  platform: string;
  /** e.g. "iOS 17.2.1" */
  system: string;
  brand: string;
  model: string;
  /** WeChat version */
  version: string;
  /** base library version */
  SDKVersion: string;
  appId: string;
  envVersion: 'develop' | 'trial' | 'release';
  /** mini-program version (release builds only) */
  appVersion?: string;
  /** What getNetworkType says: wifi, 2g, 3g, 4g, 5g, unknown, none */
  networkType: string;
}

export const DEFAULT_FINGERPRINT: Fingerprint = {
  platform: 'ios',
  system: 'iOS 17.2.1',
  brand: 'iPhone',
  model: 'iPhone 15 Pro<iPhone16,1>',
  version: '8.0.50',
  SDKVersion: '3.4.10',
  appId: 'wx0123456789abcdef',
  envVersion: 'release',
  appVersion: '1.4.2',
  networkType: 'wifi',
};

/** Storage that survives a simulated app restart: hand the same object to the next shim. */
export class WxStorage {
  readonly data = new Map<string, string>();
  static readonly KEY_LIMIT = 1024 * 1024;
  static readonly TOTAL_LIMIT = 10 * 1024 * 1024;
  /** Set to make every write fail as a full storage would. */
  failWrites = false;
  private used = 0;

  /** Bytes in use: keys and JSON-serialized values, as WeChat counts them. */
  bytes(): number {
    return this.used;
  }

  set(key: string, value: unknown): string | undefined {
    const text = JSON.stringify(value === undefined ? null : value);
    const size = Buffer.byteLength(key) + Buffer.byteLength(text);
    if (this.failWrites) return 'setStorage:fail exceed storage max size 10Mb';
    if (size > WxStorage.KEY_LIMIT) return 'setStorage:fail entry size limit reached';
    const old = this.data.get(key);
    const oldSize = old === undefined ? 0 : Buffer.byteLength(key) + Buffer.byteLength(old);
    if (this.used - oldSize + size > WxStorage.TOTAL_LIMIT)
      return 'setStorage:fail exceed storage max size 10Mb';
    this.data.set(key, text);
    this.used += size - oldSize;
    return undefined;
  }

  remove(key: string): void {
    const old = this.data.get(key);
    if (old === undefined) return;
    this.data.delete(key);
    this.used -= Buffer.byteLength(key) + Buffer.byteLength(old);
  }

  get(key: string): { found: boolean; value?: unknown } {
    const text = this.data.get(key);
    return text === undefined ? { found: false } : { found: true, value: JSON.parse(text) };
  }
}

export interface WxShimOptions {
  fingerprint?: Partial<Fingerprint>;
  /** The folder the downloads' temporary folder is made in (default: the OS's); kill() removes it. */
  tempParent?: string;
  storage?: WxStorage;
  /** Maps a `wxfile://` or relative file path to a real one (default: as is). */
  resolveFile?: (path: string) => string;
  /** Offer getAppBaseInfo/getDeviceInfo (base library ≥ 2.20.1); false → only getSystemInfoSync. */
  modernInfoApis?: boolean;
  /** Performance entries the base library would report; emitted by `emitPerformance`. */
  performance?: boolean;
  /**
   * The runtime origin of performance timestamps (epoch ms). Unset: entries carry epoch milliseconds.
   * Set: getPerformance().now() counts from it, and `control.performanceTime` converts to that base, as
   * base libraries that time entries from a runtime origin do.
   */
  performanceOrigin?: number;
  /**
   * WeChat Cloud (wx.cloud): callFunction POSTs `{ data }` to `${functionsUrl}/${name}` and answers
   * `{ result }` from the JSON reply; callContainer calls `${containerUrl}${path}`. Real HTTP both.
   */
  cloud?: { functionsUrl: string; containerUrl?: string };
  /** What wx.getExtConfigSync() returns (ext.json: how third-party platforms configure an app). */
  extConfig?: Record<string, unknown>;
  /** Files wx.chooseMedia "picks", in turn (real paths). */
  media?: string[];
  /** The client's public address, as the edge in front of the servers would stamp it (X-Forwarded-For, X-Real-IP). */
  clientIp?: string;
  /**
   * The network between this phone and the servers, for fault injection: called before each request;
   * `{ fail: 'timeout' }` lets the request hang until its timeout, `{ fail: 'network' }` fails it at once
   * (connection reset), `{ delayMs }` holds it before it leaves. The request never reaches a server when
   * it fails, as on a broken mobile network.
   */
  network?: (call: { api: string; url: string; method: string }) =>
    | {
        fail?: 'timeout' | 'network';
        delayMs?: number /** when the timeout fires (default: the call's timeout) */;
        afterMs?: number;
      }
    | undefined;
  /**
   * A faulty base library, for fault injection: when it returns true for an uploadFile call, the multipart
   * body goes out without its closing boundary (as a stale cached request would), and the server rejects it.
   */
  truncateUpload?: (call: { url: string }) => boolean;
}

type Handler = (arg?: any) => void;

export interface WxControl {
  /** Fire an app/network event as the host would: 'appHide', 'appShow', 'error', 'unhandledRejection', … */
  emit(event: string, payload?: unknown): void;
  setNetwork(networkType: string): void;
  emitPerformance(entries: Array<Record<string, unknown>>): void;
  /** An epoch time in the base the shim's performance entries use (see `performanceOrigin`). */
  performanceTime(epochMs: number): number;
  /** Requests the host has open right now, and the most it ever had at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** All requests made through the shim, in order (url, method, headers). */
  readonly log: Array<{ api: string; url: string; method: string; headers: Record<string, unknown> }>;
  /** Abort every open request and forget listeners (the app was killed). */
  kill(): void;
}

const MAX_CONCURRENT = 10;

/** Answers a callback-style call: fail+complete with `error`, else success+complete with `result`. */
function finish(opts: any, error: { errMsg: string } | undefined, result: Record<string, unknown>): void {
  if (error) opts.fail?.(error);
  else opts.success?.(result);
  opts.complete?.(error ?? result);
}

export function createWx(options: WxShimOptions = {}): { wx: any; control: WxControl; storage: WxStorage } {
  const fp: Fingerprint = { ...DEFAULT_FINGERPRINT, ...options.fingerprint };
  const storage = options.storage ?? new WxStorage();
  const resolveFile = options.resolveFile ?? ((p: string) => p);
  const listeners = new Map<string, Set<Handler>>();
  // downloads land in a temp folder made on first use and removed when the app is killed
  let tempDir: string | undefined;
  const downloads = () => (tempDir ??= mkdtempSync(join(options.tempParent ?? tmpdir(), 'wx-shim-')));
  let active = 0;
  let maxActive = 0;
  const waiting: Array<() => void> = [];
  const open = new Set<{ abort(): void }>();
  const log: WxControl['log'] = [];
  const media = [...(options.media ?? [])];
  let perfCallback: ((list: { getEntries(): unknown[] }) => void) | undefined;

  const on = (event: string) => (fn: Handler) => {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event)!.add(fn);
  };
  const off = (event: string) => (fn: Handler) => listeners.get(event)?.delete(fn);
  const emit = (event: string, payload?: unknown) => {
    for (const fn of [...(listeners.get(event) ?? [])]) fn(payload);
  };
  let dead = false;
  // Callbacks come on a later turn, as WeChat's do; a killed app gets none.
  const later = (fn: () => void) =>
    setImmediate(() => {
      if (!dead) fn();
    });

  /** WeChat runs at most 10 network requests at once; the rest wait their turn. */
  const slot = (run: () => void) => {
    const start = () => {
      active++;
      maxActive = Math.max(maxActive, active);
      run();
    };
    if (active < MAX_CONCURRENT) start();
    else waiting.push(start);
  };
  const release = () => {
    active--;
    waiting.shift()?.();
  };

  interface HttpCall {
    api: 'request' | 'uploadFile' | 'downloadFile';
    url: string;
    method: string;
    headers: Record<string, unknown>;
    body?: Buffer | (() => NodeJS.ReadableStream);
    bodyLength?: number;
    timeout: number;
    onUploadProgress?: (sent: number, total: number) => void;
    onDownloadProgress?: (written: number, total: number) => void;
    onHeaders?: (headers: Record<string, string>) => void;
    done(err: string | undefined, status?: number, headers?: Record<string, string>, body?: Buffer): void;
  }

  function perform(call: HttpCall): { abort(): void } {
    let finished = false;
    let req: http.ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    const handle = {
      abort() {
        finish(`${call.api}:fail abort`);
      },
    };
    const finish = (
      err: string | undefined,
      status?: number,
      headers?: Record<string, string>,
      body?: Buffer,
    ) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      open.delete(handle);
      if (err) req?.destroy();
      release();
      later(() => call.done(err, status, headers, body));
    };
    if (dead) return handle;
    open.add(handle);
    if (options.clientIp) {
      call.headers['x-forwarded-for'] = options.clientIp;
      call.headers['x-real-ip'] = options.clientIp;
    }
    log.push({ api: call.api, url: call.url, method: call.method, headers: call.headers });
    const send = (call: HttpCall) => {
      if (finished) return;
      let target: URL;
      try {
        target = new URL(call.url);
      } catch {
        return finish(`${call.api}:fail invalid url "${call.url}"`);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.headers))
        if (v !== undefined && v !== null) headers[k] = String(v);
      if (call.bodyLength !== undefined) headers['content-length'] = String(call.bodyLength);
      const lib = target.protocol === 'https:' ? https : http;
      timer = setTimeout(() => finish(`${call.api}:fail timeout`), call.timeout);
      try {
        req = lib.request(target, { method: call.method, headers }, (res) => {
          const resHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            resHeaders[k] = Array.isArray(v) ? v.join(',') : String(v);
          call.onHeaders?.(resHeaders);
          const total = Number(res.headers['content-length'] ?? 0);
          const chunks: Buffer[] = [];
          let received = 0;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            received += c.length;
            call.onDownloadProgress?.(received, total || received);
          });
          res.on('end', () => finish(undefined, res.statusCode ?? 0, resHeaders, Buffer.concat(chunks)));
          res.on('error', () => finish(`${call.api}:fail network error`));
        });
      } catch (e) {
        return finish(`${call.api}:fail ${(e as Error).message}`);
      }
      req.on('error', (e: NodeJS.ErrnoException) =>
        finish(`${call.api}:fail ${e.code === 'ECONNREFUSED' ? 'net::ERR_CONNECTION_REFUSED' : e.message}`),
      );
      const body = call.body;
      if (typeof body === 'function') {
        let sent = 0;
        const stream = body();
        stream.on('data', (c: Buffer | string) => {
          sent += c.length;
          call.onUploadProgress?.(sent, call.bodyLength ?? sent);
        });
        stream.pipe(req);
      } else {
        if (body) {
          req.write(body);
          call.onUploadProgress?.(body.length, body.length);
        }
        req.end();
      }
    };
    const fault = options.network?.({ api: call.api, url: call.url, method: call.method });
    slot(() => {
      if (finished) return;
      if (fault?.fail === 'timeout') {
        timer = setTimeout(() => finish(`${call.api}:fail timeout`), fault.afterMs ?? call.timeout);
        return;
      }
      if (fault?.fail === 'network') return finish(`${call.api}:fail net::ERR_CONNECTION_RESET`);
      if (fault?.delayMs) {
        timer = setTimeout(() => send(call), fault.delayMs);
        return;
      }
      send(call);
    });
    return handle;
  }

  function callbacks(opts: any, apiName: string) {
    return {
      ok(res: any) {
        const r = { errMsg: `${apiName}:ok`, ...res };
        opts.success?.(r);
        opts.complete?.(r);
      },
      fail(errMsg: string) {
        const r = { errMsg, errno: errMsg.includes('timeout') ? 5 : 600001 };
        opts.fail?.(r);
        opts.complete?.(r);
      },
    };
  }

  const wx: any = {
    request(opts: any) {
      const cb = callbacks(opts, 'request');
      const method = String(opts.method ?? 'GET').toUpperCase();
      const headers: Record<string, unknown> = { ...(opts.header ?? {}) };
      let url = String(opts.url);
      let body: Buffer | undefined;
      const data = opts.data;
      if (data !== undefined && data !== null) {
        if (method === 'GET' && typeof data === 'object' && !(data instanceof ArrayBuffer)) {
          const q = new URLSearchParams(
            Object.entries(data).map(([k, v]): [string, string] => [k, String(v)]),
          ).toString();
          if (q) url += (url.includes('?') ? '&' : '?') + q;
        } else if (typeof data === 'string') body = Buffer.from(data);
        else if (Object.prototype.toString.call(data) === '[object ArrayBuffer]')
          body = Buffer.from(data as ArrayBuffer);
        else {
          body = Buffer.from(JSON.stringify(data));
          if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
            headers['content-type'] = 'application/json';
        }
      }
      const headerListeners = new Set<Handler>();
      const handle = perform({
        api: 'request',
        url,
        method,
        headers,
        body,
        bodyLength: body?.length,
        timeout: Number(opts.timeout ?? 60_000),
        onHeaders: (h) => {
          for (const fn of headerListeners) fn({ header: h });
        },
        done(err, status, resHeaders, resBody) {
          if (err) return cb.fail(err);
          let payload: unknown;
          if (opts.responseType === 'arraybuffer') {
            const b = resBody ?? Buffer.alloc(0);
            payload = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
          } else {
            payload = resBody?.toString('utf8') ?? '';
            if ((opts.dataType ?? 'json') === 'json') {
              try {
                payload = JSON.parse(payload as string);
              } catch {}
            }
          }
          cb.ok({ data: payload, statusCode: status, header: resHeaders, cookies: [] });
        },
      });
      return {
        abort: () => handle.abort(),
        onHeadersReceived: (fn: Handler) => headerListeners.add(fn),
        offHeadersReceived: (fn: Handler) => headerListeners.delete(fn),
      };
    },

    uploadFile(opts: any) {
      const cb = callbacks(opts, 'uploadFile');
      const progress = new Set<Handler>();
      const file = resolveFile(String(opts.filePath));
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        later(() => cb.fail(`uploadFile:fail file not found: ${opts.filePath}`));
        return {
          abort() {},
          onProgressUpdate() {},
          offProgressUpdate() {},
          onHeadersReceived() {},
          offHeadersReceived() {},
        };
      }
      const boundary = `----wxshim${randomBytes(8).toString('hex')}`;
      let head = '';
      for (const [k, v] of Object.entries(opts.formData ?? {})) {
        head += `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${String(v)}\r\n`;
      }
      head += `--${boundary}\r\ncontent-disposition: form-data; name="${opts.name ?? 'file'}"; filename="${basename(file)}"\r\ncontent-type: application/octet-stream\r\n\r\n`;
      const tail = options.truncateUpload?.({ url: String(opts.url) }) ? '' : `\r\n--${boundary}--\r\n`;
      const total = Buffer.byteLength(head) + size + Buffer.byteLength(tail);
      const handle = perform({
        api: 'uploadFile',
        url: String(opts.url),
        method: 'POST',
        headers: { ...(opts.header ?? {}), 'content-type': `multipart/form-data; boundary=${boundary}` },
        bodyLength: total,
        body: () => {
          const out = new PassThrough();
          out.write(head);
          const rs = createReadStream(file);
          rs.on('end', () => out.end(tail));
          rs.pipe(out, { end: false });
          return out;
        },
        timeout: Number(opts.timeout ?? 60_000),
        onUploadProgress: (sent, all) => {
          for (const fn of progress)
            fn({
              progress: Math.round((sent / all) * 100),
              totalBytesSent: sent,
              totalBytesExpectedToSend: all,
            });
        },
        done(err, status, resHeaders, resBody) {
          if (err) return cb.fail(err);
          cb.ok({ data: resBody?.toString('utf8') ?? '', statusCode: status, header: resHeaders });
        },
      });
      return {
        abort: () => handle.abort(),
        onProgressUpdate: (fn: Handler) => progress.add(fn),
        offProgressUpdate: (fn: Handler) => progress.delete(fn),
        onHeadersReceived() {},
        offHeadersReceived() {},
      };
    },

    downloadFile(opts: any) {
      const cb = callbacks(opts, 'downloadFile');
      const progress = new Set<Handler>();
      const handle = perform({
        api: 'downloadFile',
        url: String(opts.url),
        method: 'GET',
        headers: { ...(opts.header ?? {}) },
        timeout: Number(opts.timeout ?? 60_000),
        onDownloadProgress: (written, all) => {
          for (const fn of progress)
            fn({
              progress: Math.round((written / all) * 100),
              totalBytesWritten: written,
              totalBytesExpectedToWrite: all,
            });
        },
        done(err, status, resHeaders, resBody) {
          if (err) return cb.fail(err);
          const tempFilePath = join(downloads(), `download-${randomBytes(6).toString('hex')}`);
          writeFileSync(tempFilePath, resBody ?? Buffer.alloc(0));
          cb.ok({ tempFilePath, statusCode: status, header: resHeaders, dataLength: resBody?.length ?? 0 });
        },
      });
      return {
        abort: () => handle.abort(),
        onProgressUpdate: (fn: Handler) => progress.add(fn),
        offProgressUpdate: (fn: Handler) => progress.delete(fn),
        onHeadersReceived() {},
        offHeadersReceived() {},
      };
    },

    // storage (async ones answer on a later turn, as WeChat's do)
    setStorage(opts: any) {
      const err = storage.set(String(opts.key), opts.data);
      if (!opts.success && !opts.fail && !opts.complete) {
        // promise style (base library ≥ 2.10.2): no callbacks given
        return new Promise((resolve, reject) =>
          later(() => (err ? reject({ errMsg: err }) : resolve({ errMsg: 'setStorage:ok' }))),
        );
      }
      later(() => finish(opts, err ? { errMsg: err } : undefined, { errMsg: 'setStorage:ok' }));
    },
    setStorageSync(key: string, data: unknown) {
      const err = storage.set(String(key), data);
      if (err) throw new Error(err);
    },
    getStorage(opts: any) {
      const r = storage.get(String(opts.key));
      later(() =>
        finish(opts, r.found ? undefined : { errMsg: 'getStorage:fail data not found' }, {
          data: r.value,
          errMsg: 'getStorage:ok',
        }),
      );
    },
    getStorageSync(key: string) {
      const r = storage.get(String(key));
      return r.found ? r.value : '';
    },
    removeStorage(opts: any) {
      storage.remove(String(opts.key));
      later(() => finish(opts, undefined, { errMsg: 'removeStorage:ok' }));
    },
    removeStorageSync(key: string) {
      storage.remove(String(key));
    },
    getStorageInfoSync() {
      return {
        keys: [...storage.data.keys()],
        currentSize: Math.ceil(storage.bytes() / 1024),
        limitSize: 10240,
      };
    },
    getStorageInfo(opts: any) {
      const info = wx.getStorageInfoSync();
      later(() => finish(opts, undefined, { ...info, errMsg: 'getStorageInfo:ok' }));
    },

    // WebSocket (SocketTask) over a real connection
    connectSocket(opts: any) {
      const listeners: Record<string, Set<Handler>> = {
        open: new Set(),
        message: new Set(),
        close: new Set(),
        error: new Set(),
      };
      const fire = (event: string, payload: unknown) => {
        for (const fn of [...listeners[event]!]) fn(payload);
      };
      const on = (event: string) => (fn: Handler) => listeners[event]!.add(fn);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.header ?? {})) headers[k] = String(v);
      log.push({ api: 'connectSocket', url: String(opts.url), method: 'GET', headers });
      const socket = new WebSocket(String(opts.url), { headers });
      socket.on('open', () => later(() => fire('open', { header: {} })));
      socket.on('message', (data, isBinary) =>
        later(() =>
          fire('message', {
            data: isBinary ? new Uint8Array(data as Buffer).buffer : (data as Buffer).toString('utf8'),
          }),
        ),
      );
      socket.on('close', (code, reason) =>
        later(() => fire('close', { code, reason: reason.toString('utf8') })),
      );
      socket.on('error', (err) => later(() => fire('error', { errMsg: err.message })));
      later(() => opts.success?.({ errMsg: 'connectSocket:ok' }));
      return {
        onOpen: on('open'),
        onMessage: on('message'),
        onClose: on('close'),
        onError: on('error'),
        send(o: any) {
          socket.send(typeof o.data === 'string' ? o.data : Buffer.from(o.data), (err) =>
            later(() =>
              err ? o.fail?.({ errMsg: `sendSocketMessage:fail ${err.message}` }) : o.success?.({}),
            ),
          );
        },
        close(o: any = {}) {
          socket.close(o.code ?? 1000, o.reason);
          later(() => o.success?.({}));
        },
      };
    },

    getExtConfigSync() {
      return { ...(options.extConfig ?? {}) };
    },
    chooseMedia(opts: any) {
      const picked = media.shift();
      later(() => {
        if (!picked) return opts.fail?.({ errMsg: 'chooseMedia:fail cancel' });
        const size = statSync(picked).size;
        opts.success?.({
          type: 'image',
          tempFiles: [{ tempFilePath: picked, size, fileType: 'image' }],
          errMsg: 'chooseMedia:ok',
        });
      });
    },

    // device and app
    getSystemInfoSync() {
      return {
        platform: fp.platform,
        system: fp.system,
        brand: fp.brand,
        model: fp.model,
        version: fp.version,
        SDKVersion: fp.SDKVersion,
        language: 'zh_CN',
      };
    },
    getAccountInfoSync() {
      return {
        miniProgram: {
          appId: fp.appId,
          envVersion: fp.envVersion,
          version: fp.envVersion === 'release' ? (fp.appVersion ?? '') : '',
        },
      };
    },
    getNetworkType(opts: any) {
      later(() => opts.success?.({ networkType: fp.networkType, errMsg: 'getNetworkType:ok' }));
    },
    onNetworkStatusChange: on('networkStatusChange'),
    offNetworkStatusChange: off('networkStatusChange'),
    onAppHide: on('appHide'),
    offAppHide: off('appHide'),
    onAppShow: on('appShow'),
    offAppShow: off('appShow'),
    onError: on('error'),
    offError: off('error'),
    onUnhandledRejection: on('unhandledRejection'),
    offUnhandledRejection: off('unhandledRejection'),
    onPageNotFound: on('pageNotFound'),
    offPageNotFound: off('pageNotFound'),
    onMemoryWarning: on('memoryWarning'),
    offMemoryWarning: off('memoryWarning'),
  };
  if (options.modernInfoApis !== false) {
    wx.getAppBaseInfo = () => ({
      SDKVersion: fp.SDKVersion,
      version: fp.version,
      language: 'zh_CN',
      host: { appId: 'wx-host' },
    });
    wx.getDeviceInfo = () => ({ platform: fp.platform, system: fp.system, brand: fp.brand, model: fp.model });
  }
  if (options.cloud) {
    const { functionsUrl, containerUrl } = options.cloud;
    /** Answers through callbacks, or a promise when none are given (as WeChat's promisified APIs do). */
    const answer = (opts: any, run: (ok: (r: any) => void, fail: (e: any) => void) => void) => {
      const styled = opts.success || opts.fail || opts.complete;
      const done = new Promise((resolve, reject) => run(resolve, reject));
      if (!styled) return done;
      done.then(
        (r) => {
          opts.success?.(r);
          opts.complete?.(r);
        },
        (e) => {
          opts.fail?.(e);
          opts.complete?.(e);
        },
      );
      return undefined;
    };
    // cloud calls do not go through wx.request on a phone: use the shim's own, unpatched
    const rawRequest = wx.request;
    wx.cloud = {
      init() {},
      callFunction(opts: any) {
        return answer(opts, (ok, fail) =>
          rawRequest({
            url: `${functionsUrl}/${opts.name}`,
            method: 'POST',
            data: { data: opts.data ?? {} },
            success: (res: any) =>
              res.statusCode >= 200 && res.statusCode < 300
                ? ok({ result: res.data, errMsg: 'cloud.callFunction:ok', requestID: String(Date.now()) })
                : fail({
                    errCode: -404000 - res.statusCode,
                    errMsg: `cloud.callFunction:fail ${res.statusCode}`,
                  }),
            fail: (e: any) => fail({ errCode: -1, errMsg: `cloud.callFunction:fail ${e.errMsg}` }),
          }),
        );
      },
      callContainer(opts: any) {
        return answer(opts, (ok, fail) =>
          rawRequest({
            url: `${containerUrl}${opts.path}`,
            method: opts.method ?? 'POST',
            header: opts.header,
            data: opts.data,
            success: (res: any) => ok({ ...res, errMsg: 'cloud.callContainer:ok' }),
            fail: (e: any) => fail({ errCode: -1, errMsg: `cloud.callContainer:fail ${e.errMsg}` }),
          }),
        );
      },
    };
  }
  if (options.performance) {
    const origin = options.performanceOrigin;
    wx.getPerformance = () => ({
      ...(origin === undefined ? {} : { now: () => Date.now() - origin }),
      createObserver(cb: (list: { getEntries(): unknown[] }) => void) {
        return {
          observe() {
            perfCallback = cb;
          },
          disconnect() {
            perfCallback = undefined;
          },
        };
      },
    });
  }
  // As on devices, `request` is an accessor: plain assignment is ignored, defineProperty works.
  const request = wx.request;
  delete wx.request;
  Object.defineProperty(wx, 'request', {
    get: () => request,
    set: () => {},
    configurable: true,
    enumerable: true,
  });

  const control: WxControl = {
    emit,
    setNetwork(networkType) {
      fp.networkType = networkType;
      emit('networkStatusChange', { isConnected: networkType !== 'none', networkType });
    },
    emitPerformance(entries) {
      perfCallback?.({ getEntries: () => entries });
    },
    performanceTime: (epochMs) =>
      options.performanceOrigin === undefined ? epochMs : epochMs - options.performanceOrigin,
    get inFlight() {
      return active;
    },
    get maxInFlight() {
      return maxActive;
    },
    log,
    kill() {
      dead = true;
      for (const h of [...open]) h.abort();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      listeners.clear();
      perfCallback = undefined;
    },
  };
  return { wx, control, storage };
}
