// The host app's storage comes first. WeChat gives a mini-program 10 MB in all; the queue's share comes
// out of it. When one of the app's own writes (setStorage / setStorageSync, callback or promise style)
// fails for quota, the queue gives its keys up and the write is retried once, so the SDK never makes an
// app write fail. The SDK's own keys pass straight through.
import { patch, unpatch } from './platform.js';

const QUOTA = /exceed|quota|max ?size|limit/i;

function isQuotaError(err: unknown): boolean {
  const e = err as { errMsg?: string; message?: string } | undefined;
  return QUOTA.test(String((e && (e.errMsg || e.message)) || err || ''));
}

export function guardAppStorage(
  api: any,
  isOwnKey: (key: string) => boolean,
  yieldRoom: () => boolean,
): () => void {
  const ours = (key: unknown) => isOwnKey(String(key));
  patch(
    api,
    'setStorageSync',
    (original) =>
      function (this: unknown, ...args: any[]) {
        if (ours(args[0])) return original.apply(this, args);
        try {
          return original.apply(this, args);
        } catch (err) {
          if (!isQuotaError(err) || !yieldRoom()) throw err;
          return original.apply(this, args);
        }
      },
  );
  patch(
    api,
    'setStorage',
    (original) =>
      function (this: unknown, options: any) {
        if (!options || typeof options !== 'object' || ours(options.key)) return original.call(this, options);
        const self = this;
        const { success, fail, complete } = options;
        if (!success && !fail && !complete) {
          // promise style: retry on a rejection for quota
          const pending = original.call(self, options);
          if (!pending || typeof pending.then !== 'function') return pending;
          return pending.then(undefined, (err: any) => {
            if (isQuotaError(err) && yieldRoom()) return original.call(self, options);
            throw err;
          });
        }
        let retrying = false;
        return original.call(self, {
          ...options,
          fail(err: any) {
            if (isQuotaError(err) && yieldRoom()) {
              retrying = true;
              original.call(self, options); // the app's own callbacks answer the retry
              return;
            }
            if (typeof fail === 'function') fail(err);
          },
          complete(res: any) {
            if (!retrying && typeof complete === 'function') complete(res);
          },
        });
      },
  );
  return () => {
    unpatch(api, 'setStorageSync');
    unpatch(api, 'setStorage');
  };
}
