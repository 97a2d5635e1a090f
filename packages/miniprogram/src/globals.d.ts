// The few host globals the SDK uses, as WeChat's engine (and every other mini-program engine) offers them.
declare function setTimeout(handler: () => void, ms?: number): any;
declare function clearTimeout(handle: any): void;
declare function setInterval(handler: () => void, ms?: number): any;
declare function clearInterval(handle: any): void;
declare const console: { warn(...args: unknown[]): void; error(...args: unknown[]): void };
