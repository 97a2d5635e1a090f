// WebSocket connections (wx.connectSocket → SocketTask): one CLIENT span per connection, from connect to
// close, with the time to open, messages and bytes each way, and the close code; an abnormal close or an
// error is the span's error. Trace context goes in the handshake headers to the app's own hosts.
// Listeners: the SDK registers its own open/close/error listeners before the app gets the task, and
// wraps the task's on*/send methods so that the app's listeners (which may replace earlier ones on some
// base libraries) keep feeding the span.

import { patch, unpatch } from './platform.js';
import { injectTraceHeaders, type RequestContext, serverOf } from './requests.js';
import { scrubUrl } from './scrub.js';
import { utf8Length } from './text.js';

const CLIENT = 2;
const ERROR = 2;

function size(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  const n = data && (data as any).byteLength;
  return typeof n === 'number' ? n : 0;
}

export function instrumentSockets(o: RequestContext): () => void {
  const api = o.platform.api;
  patch(
    api,
    'connectSocket',
    (original) =>
      function (this: unknown, options: any) {
        let task: any;
        let hooks: ((task: any) => void) | undefined;
        let callOptions = options;
        try {
          const url = String(options.url);
          const server = serverOf(url);
          const span = o.tracer.startSpan('WebSocket', { kind: CLIENT });
          span.setAttribute('url.full', scrubUrl(url, o.secretParams));
          span.setAttribute('server.address', server.host);
          span.setAttribute('server.port', server.port);
          span.setAttribute('network.protocol.name', 'websocket');
          span.setAttribute('mp.page.route', o.pageRoute());
          const headers = options.header && typeof options.header === 'object' ? { ...options.header } : {};
          if (o.propagateTo(url, server.host)) injectTraceHeaders(o, span, headers);
          const userFail = options.fail;
          callOptions = {
            ...options,
            header: headers,
            fail(this: unknown, err: any) {
              try {
                finish(undefined, (err && err.errMsg) || undefined, 'connect');
              } catch {}
              if (typeof userFail === 'function') return userFail.call(this, err);
            },
          };
          const counts = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };
          const started = Date.now();
          const crumb = `WebSocket ${server.host}`;
          const finish = (code?: number, reason?: string, error?: string) => {
            if (span.ended) return;
            span.setAttribute('mp.websocket.messages_sent', counts.sent);
            span.setAttribute('mp.websocket.messages_received', counts.received);
            span.setAttribute('mp.websocket.bytes_sent', counts.bytesSent);
            span.setAttribute('mp.websocket.bytes_received', counts.bytesReceived);
            span.setAttribute('mp.websocket.close_code', code);
            span.setAttribute('mp.websocket.close_reason', reason || undefined);
            if (error || (code !== undefined && code !== 1000)) {
              span.setAttribute('error.type', error || String(code));
              span.setStatus({ code: ERROR, message: reason });
            }
            o.breadcrumbs.add('websocket', `${crumb} closed ${error || code}`);
            span.end();
          };
          const seen = typeof WeakSet === 'function' ? new WeakSet<object>() : undefined;
          const listeners: Record<string, (r: any) => void> = {
            onOpen: () => {
              if (span.attributes['mp.websocket.open_ms'] !== undefined) return;
              span.setAttribute('mp.websocket.open_ms', Date.now() - started);
              o.breadcrumbs.add('websocket', `${crumb} open`);
            },
            onMessage: (r: any = {}) => {
              if (seen && r && typeof r === 'object') {
                if (seen.has(r)) return;
                seen.add(r);
              }
              counts.received++;
              counts.bytesReceived += size(r && r.data);
            },
            onClose: (r: any = {}) => finish(Number(r.code) || 1000, r.reason),
            onError: (r: any = {}) => finish(undefined, (r && r.errMsg) || undefined, 'error'),
          };
          hooks = (t) => {
            for (const name of ['onOpen', 'onClose', 'onError']) t[name](listeners[name]);
            for (const name in listeners) {
              const original = t[name];
              if (typeof original !== 'function') continue;
              Object.defineProperty(t, name, {
                configurable: true,
                writable: true,
                value: (fn: (r: any) => void) =>
                  original.call(t, function (this: unknown, r: any) {
                    try {
                      listeners[name]!(r);
                    } catch {}
                    if (typeof fn === 'function') return fn.call(this, r);
                  }),
              });
            }
            const send = t.send;
            if (typeof send === 'function') {
              Object.defineProperty(t, 'send', {
                configurable: true,
                writable: true,
                value: (opts: any) => {
                  try {
                    counts.sent++;
                    counts.bytesSent += size(opts && opts.data);
                  } catch {}
                  return send.call(t, opts);
                },
              });
            }
          };
        } catch {
          hooks = undefined;
          callOptions = options;
        }
        task = original.call(this, callOptions);
        try {
          if (hooks && task && typeof task.onClose === 'function') hooks(task);
        } catch {}
        return task;
      },
  );
  return () => unpatch(api, 'connectSocket');
}
