export type {
  CapturedHistogramPoint,
  CapturedLog,
  CapturedRequest,
  CapturedSpan,
  OtlpCapture,
  Reply,
} from './otlp-capture.js';
export { anyValue, attributes, startOtlpCapture, waitFor } from './otlp-capture.js';
export { type ProcStat, procStat, threadStats } from './proc-stat.js';
export { type RawResponse, rawRequest } from './raw-http.js';
export { repoRoot } from './repo.js';
export type { MiniProgram, PageInstance, RunOptions } from './runtime.js';
export { runMiniProgram } from './runtime.js';
export type { RunningService } from './service.js';
export { otlpEnv, startService } from './service.js';
export type { MiniProgramRealm } from './vm-loader.js';
export { createRealm, loadMiniProgramSdk, miniprogramDistPath } from './vm-loader.js';
export type { Fingerprint, WxControl, WxShimOptions } from './wx-shim.js';
export { createWx, DEFAULT_FINGERPRINT, WxStorage } from './wx-shim.js';
