export type { CapturedLog, CapturedRequest, CapturedSpan, OtlpCapture, Reply } from './otlp-capture.js';
export { anyValue, attributes, startOtlpCapture, waitFor } from './otlp-capture.js';
export type { MiniProgram, PageInstance, RunOptions } from './runtime.js';
export { runMiniProgram } from './runtime.js';
export type { MiniProgramRealm } from './vm-loader.js';
export { createRealm, loadMiniProgramSdk, miniprogramDistPath } from './vm-loader.js';
export type { Fingerprint, WxControl, WxShimOptions } from './wx-shim.js';
export { createWx, DEFAULT_FINGERPRINT, WxStorage } from './wx-shim.js';
