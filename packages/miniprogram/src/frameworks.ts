// `@mp-otel/miniprogram/frameworks`: errors that frameworks catch themselves never reach wx.onError, so
// they are forwarded to captureException here (each with `mp.error.source` naming the framework).
//  - Vue 3 (and uni-app, whose pages are Vue components): vueErrorHandler(app, otel) chains onto
//    app.config.errorHandler; Vue 2: vueErrorHandler(Vue, otel) on Vue.config.
//  - React / Taro (React): createErrorBoundary(React, otel) returns an error-boundary component.
// The app's own handler, if any, still runs (after the capture).
import type { MpOtel } from './index.js';
import { truncate } from './text.js';

type Capture = Pick<MpOtel, 'captureException'>;

/** Vue 3 `app` or Vue 2 constructor: anything with `config.errorHandler`. */
export function vueErrorHandler(
  app: { config: { errorHandler?: any } },
  otel: Capture,
  source = 'vue',
): void {
  const previous = app.config.errorHandler;
  app.config.errorHandler = function (this: unknown, err: unknown, instance: any, info: unknown) {
    try {
      const component =
        instance &&
        ((instance.$options && instance.$options.name) ||
          (instance.$ && instance.$.type && instance.$.type.name));
      otel.captureException(err, {
        'mp.error.source': source,
        'mp.error.info': info === undefined ? undefined : String(info),
        'mp.error.component': component || undefined,
      });
    } catch {}
    if (typeof previous === 'function') return previous.call(this, err, instance, info);
  };
}

/** uni-app: its pages are Vue 3 components (createSSRApp); errors inside them go through Vue. */
export function uniAppErrorHandler(app: { config: { errorHandler?: any } }, otel: Capture): void {
  vueErrorHandler(app, otel, 'uniapp');
}

/**
 * A React error boundary (React 16+, Taro 3 React): renders `fallback` (or nothing) once a child
 * throws, after capturing the error with its component stack.
 *   const ErrorBoundary = createErrorBoundary(React, otel)
 *   <ErrorBoundary fallback={<View>…</View>}><Page /></ErrorBoundary>
 */
export function createErrorBoundary(React: { Component: any }, otel: Capture, source = 'react'): any {
  return class MpOtelErrorBoundary extends React.Component {
    state = { failed: false };
    static getDerivedStateFromError() {
      return { failed: true };
    }
    componentDidCatch(error: unknown, info: { componentStack?: string } = {}) {
      try {
        otel.captureException(error, {
          'mp.error.source': source,
          'mp.error.component_stack': info.componentStack
            ? truncate(String(info.componentStack), 2048)
            : undefined,
        });
      } catch {}
    }
    render() {
      const self = this as any;
      return self.state.failed ? (self.props.fallback ?? null) : self.props.children;
    }
  };
}
