// Page() and Component() are the only way a mini-program declares its pages and components, so they are
// where taps and page shows can be seen (as Aegis and sentry-miniapp also do it). The globals are
// wrapped once, only if the host has them, and restored by shutdown(); the wrapper hands each options
// object to the registered hooks before the original Page/Component sees it, and a hook that throws
// changes nothing. Pages declared before init() are not seen (call init at the top of app.js).
declare let Page: any;
declare let Component: any;

export type Kind = 'page' | 'component';
export type OptionsHook = (options: Record<string, any>, kind: Kind) => void;

const TAPS: Record<string, true> = { tap: true, longpress: true, longtap: true };

/** Calls `before(this, args)` and then `options[name]`, whatever `before` does. */
export function wrapMethod(
  target: Record<string, any>,
  name: string,
  before: (self: any, args: any[]) => void,
): void {
  const original = target[name];
  target[name] = function (this: any, ...args: any[]) {
    try {
      before(this, args);
    } catch {}
    if (typeof original === 'function') return original.apply(this, args);
  };
}

/** Records taps (method name and element id) on every method of a page or a component. */
export function tapHook(onTap: (message: string) => void): OptionsHook {
  return (options, kind) => {
    const methods = kind === 'page' ? options : options.methods;
    if (!methods || typeof methods !== 'object') return;
    for (const name of Object.keys(methods)) {
      if (typeof methods[name] !== 'function') continue;
      wrapMethod(methods, name, (_self, args) => {
        const e = args[0];
        if (!e || typeof e !== 'object' || !TAPS[e.type]) return;
        const id = e.currentTarget && e.currentTarget.id;
        onTap(`${e.type} ${name}${id ? ` #${id}` : ''}`);
      });
    }
  };
}

/** Wraps the host's Page and Component so that `hooks` see every options object; returns the undo. */
export function hookConstructors(hooks: OptionsHook[]): () => void {
  const undo: Array<() => void> = [];
  const wrap = (kind: Kind, original: any) => {
    const wrapped = function (this: unknown, options: any) {
      if (options && typeof options === 'object') {
        for (const hook of hooks) {
          try {
            hook(options, kind);
          } catch {}
        }
      }
      return original.call(this, options);
    };
    (wrapped as any).__mpOtel = original;
    return wrapped;
  };
  try {
    if (typeof Page === 'function' && !Page.__mpOtel) {
      const original = Page;
      const wrapped = wrap('page', original);
      Page = wrapped;
      undo.push(() => {
        if (Page === wrapped) Page = original;
      });
    }
  } catch {}
  try {
    if (typeof Component === 'function' && !Component.__mpOtel) {
      const original = Component;
      const wrapped = wrap('component', original);
      Component = wrapped;
      undo.push(() => {
        if (Component === wrapped) Component = original;
      });
    }
  } catch {}
  return () => {
    for (const u of undo) {
      try {
        u();
      } catch {}
    }
  };
}
