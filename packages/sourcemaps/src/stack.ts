// Stack traces as WeChat reports them: V8 (Android, DevTools) and JavaScriptCore (iOS) formats, often
// behind WeChat's own header lines ("thirdScriptError", "MiniProgramError", the message). Lines that are
// not frames are kept as they are.

export interface Frame {
  /** the function name as the stack gives it (minified), '' when anonymous */
  fn: string;
  file: string;
  /** 1-based, as both engines print them */
  line: number;
  column: number;
}

export type StackLine = { kind: 'text'; text: string } | { kind: 'frame'; frame: Frame; text: string };

// V8:  "    at Object.onLoad (pages/index/index.js:12:5)", "    at app-service.js:1:200",
//      "    at async fn (…)", "    at new Cart (…)"
const V8 = /^\s*at (?:(?:async |new )?(.*?) \()?(.+?):(\d+):(\d+)\)?\s*$/;
// JavaScriptCore: "onLoad@https://usr/app-service.js:1:200", "@app-service.js:1:2", "global code@…"
const JSC = /^\s*(?:([^@\s(]*(?: code)?)@)?((?:[a-z][\w+.-]*:\/\/)?[^@\s]+?):(\d+):(\d+)\s*$/i;

export function parseStack(stack: string): StackLine[] {
  return String(stack)
    .split(/\r?\n/)
    .map((text): StackLine => {
      const m = V8.exec(text) || JSC.exec(text);
      if (!m) return { kind: 'text', text };
      return {
        kind: 'frame',
        text,
        frame: { fn: m[1] || '', file: m[2]!, line: Number(m[3]), column: Number(m[4]) },
      };
    });
}

/**
 * A file as stacks name it, reduced to a path comparable with upload keys: no scheme or host
 * (`https://usr/`, `weapp:///`, `appservice/`), no query, no leading `./` or `/`.
 */
export function normalizePath(file: string): string {
  return file
    .replace(/[?#].*$/, '')
    .replace(/^[a-z][\w+.-]*:\/\/[^/]*/i, '')
    .replace(/^\/+/, '')
    .replace(/^(\.\/)+/, '')
    .replace(/^appservice\//, '')
    .replace(/\\/g, '/');
}
