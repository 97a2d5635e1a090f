// WeChat Cloud (wx.cloud, base library ≥ 2.2.3): a CLIENT span per callFunction (the function's name as
// faas.invoked_name) and per callContainer (an HTTP call into the app's own cloud container, which gets
// trace context like any own host). Both callback and promise styles: the app gets back exactly what
// the original returned; the span ends on whichever answer comes first.

import { patch, unpatch } from './platform.js';
import { injectTraceHeaders, type RequestContext } from './requests.js';

const CLIENT = 2;
const ERROR = 2;

type Api = 'callFunction' | 'callContainer';

export function instrumentCloud(o: RequestContext): () => void {
  const cloud = o.platform.api.cloud;
  if (!cloud || typeof cloud !== 'object') return () => {};
  const apis: Api[] = ['callFunction', 'callContainer'];
  for (const name of apis) {
    patch(
      cloud,
      name,
      (original) =>
        function (this: unknown, options: any) {
          let started: ReturnType<typeof start> | undefined;
          try {
            if (options && typeof options === 'object') started = start(o, name, options);
          } catch {
            started = undefined;
          }
          const result = original.call(this, started ? started.options : options);
          try {
            if (started && result && typeof result.then === 'function')
              result.then(started.succeed, started.failed); // a side chain: the app's promise is untouched
          } catch {}
          return result;
        },
    );
  }
  return () => {
    for (const name of apis) unpatch(cloud, name);
  };
}

function start(o: RequestContext, api: Api, options: any) {
  const env = options.config && options.config.env;
  const isContainer = api === 'callContainer';
  const method = String(options.method || 'POST').toUpperCase();
  const path = String(options.path || '');
  const span = o.tracer.startSpan(isContainer ? `${method} ${path}` : `callFunction ${options.name}`, {
    kind: CLIENT,
  });
  span.setAttribute('mp.request.api', api);
  span.setAttribute('mp.cloud.env', typeof env === 'string' ? env : undefined);
  span.setAttribute('mp.page.route', o.pageRoute());
  let headers: Record<string, unknown> | undefined;
  if (isContainer) {
    span.setAttribute('http.request.method', method);
    span.setAttribute('url.path', path);
    const given = options.header && typeof options.header === 'object' ? { ...options.header } : {};
    injectTraceHeaders(o, span, given);
    headers = given;
  } else {
    span.setAttribute('faas.invoked_name', String(options.name));
    span.setAttribute('faas.invoked_provider', 'tencent_cloud');
  }
  const crumb = isContainer ? `${method} ${path}` : `callFunction ${options.name}`;
  const succeed = (res: any = {}) => {
    if (span.ended) return;
    const status = Number(res && res.statusCode);
    if (isContainer && status) {
      span.setAttribute('http.response.status_code', status);
      if (!(status >= 100 && status < 400)) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: ERROR });
      }
    }
    o.breadcrumbs.add('cloud', `${crumb} ${status || 'ok'}`);
    span.end();
  };
  const failed = (err: any = {}) => {
    if (span.ended) return;
    const code = err && (err.errCode !== undefined ? err.errCode : err.code);
    span.setAttribute('error.type', code !== undefined ? String(code) : 'error');
    span.setStatus({ code: ERROR, message: String((err && (err.errMsg || err.message)) || '') });
    o.breadcrumbs.add('cloud', `${crumb} failed ${code !== undefined ? code : ''}`);
    span.end();
  };
  const userSuccess = options.success;
  const userFail = options.fail;
  const hasCallbacks =
    typeof userSuccess === 'function' ||
    typeof userFail === 'function' ||
    typeof options.complete === 'function';
  const callOptions = hasCallbacks
    ? {
        ...options,
        ...(headers ? { header: headers } : {}),
        success(this: unknown, res: any) {
          try {
            succeed(res);
          } catch {}
          if (typeof userSuccess === 'function') return userSuccess.call(this, res);
        },
        fail(this: unknown, err: any) {
          try {
            failed(err);
          } catch {}
          if (typeof userFail === 'function') return userFail.call(this, err);
        },
      }
    : { ...options, ...(headers ? { header: headers } : {}) };
  return { options: callOptions, succeed, failed };
}
