// Platform adapters: which global API object the host offers (wx, qq, tt, swan, my, dd) and how its
// request API names things. Everything else the SDK touches goes through `call`/`listen`, which never throw.

declare const wx: any, qq: any, tt: any, swan: any, my: any, dd: any;

export interface Platform {
  /** mp.platform */
  name: string;
  api: any;
  /** `request`, or DingTalk's `httpRequest` */
  requestApi: string;
  /** request header field name: `header`, or Alipay's `headers` */
  headerField: string;
  /** response status field name: `statusCode`, or Alipay's `status` */
  statusField: string;
}

function platformOf(name: string, api: any): Platform {
  const alipayLike = name === 'alipay' || name === 'dingtalk';
  return {
    name,
    api,
    requestApi: name === 'dingtalk' && !api.request ? 'httpRequest' : 'request',
    headerField: alipayLike ? 'headers' : 'header',
    statusField: alipayLike ? 'status' : 'statusCode',
  };
}

/** Finds the host's API object. QQ and ByteDance may also expose `wx`, so they are checked first. */
export function detectPlatform(api?: any, name?: string): Platform | undefined {
  if (api) return platformOf(name || 'wechat', api);
  if (typeof qq === 'object' && qq) return platformOf('qq', qq);
  if (typeof tt === 'object' && tt) return platformOf('bytedance', tt);
  if (typeof swan === 'object' && swan) return platformOf('baidu', swan);
  if (typeof dd === 'object' && dd) return platformOf('dingtalk', dd);
  if (typeof my === 'object' && my) return platformOf('alipay', my);
  if (typeof wx === 'object' && wx) return platformOf('wechat', wx);
  return undefined;
}

/** Calls api[name](...args) if it exists; undefined on absence or on a throw. */
export function call(api: any, name: string, ...args: unknown[]): any {
  try {
    return typeof api[name] === 'function' ? api[name](...args) : undefined;
  } catch {
    return undefined;
  }
}

/** Async API in callback style → Promise that always resolves (to undefined on failure). */
export function callAsync(api: any, name: string, options: Record<string, unknown>): Promise<any> {
  return new Promise((resolve) => {
    if (typeof api[name] !== 'function') return resolve(undefined);
    try {
      api[name]({ ...options, success: resolve, fail: () => resolve(undefined) });
    } catch {
      resolve(undefined);
    }
  });
}

/** Replaces api[name] with `wrap(original)`. wx properties can be accessors, so defineProperty first. */
export function patch(api: any, name: string, wrap: (original: any) => any): boolean {
  const original = api[name];
  if (typeof original !== 'function' || original.__mpOtel) return false;
  const wrapped = wrap(original);
  wrapped.__mpOtel = original;
  try {
    Object.defineProperty(api, name, {
      value: wrapped,
      configurable: true,
      writable: true,
      enumerable: true,
    });
  } catch {
    try {
      api[name] = wrapped;
    } catch {}
  }
  return api[name] === wrapped;
}

/** Undoes `patch`. */
export function unpatch(api: any, name: string): void {
  const original = (api[name] || {}).__mpOtel;
  if (!original) return;
  try {
    Object.defineProperty(api, name, {
      value: original,
      configurable: true,
      writable: true,
      enumerable: true,
    });
  } catch {
    try {
      api[name] = original;
    } catch {}
  }
}
