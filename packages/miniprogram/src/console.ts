// Plugin `@mp-otel/miniprogram/console` (opt-in): console.error / console.warn lines as breadcrumbs, so
// the exception that follows them says what the app logged first. The console's methods are wrapped
// (the line still goes to the console first) and restored by shutdown().
import type { Plugin } from './index.js';

declare const console: Record<string, (...args: unknown[]) => void>;

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Error).message === 'string')
    return `${(value as Error).name || 'Error'}: ${(value as Error).message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function consoleBreadcrumbs(
  levels: Array<'error' | 'warn' | 'info' | 'log'> = ['error', 'warn'],
): Plugin {
  return {
    name: 'console',
    setup(ctx) {
      const restore: Array<() => void> = [];
      for (const level of levels) {
        const original = console[level];
        if (typeof original !== 'function') continue;
        const wrapped = function (this: unknown, ...args: unknown[]) {
          const result = original.apply(this, args);
          try {
            ctx.breadcrumb(`console.${level}`, args.map(text).join(' '));
          } catch {}
          return result;
        };
        console[level] = wrapped;
        restore.push(() => {
          if (console[level] === wrapped) console[level] = original;
        });
      }
      return () => {
        for (const r of restore) r();
      };
    },
  };
}
