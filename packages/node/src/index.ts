export {
  ATTR_APP_ERROR_CODE,
  defineErrorCode,
  ERROR_CODE_HEADER,
  ERROR_CODES,
  type ErrorCodeInfo,
  listErrorCodes,
  lookupErrorCode,
  sendError,
  setErrorCode,
} from './error-codes.js';
export {
  ATTR_HTTP_ROUTE,
  ATTR_IMAGE_DIRECTION,
  ATTR_IMAGE_OUTCOME,
  ATTR_IMAGE_SIZE_BUCKET,
  DURATION_BOUNDARIES_S,
  getImageSizeBuckets,
  type ImageDirection,
  type ImageOutcome,
  type ImageTransfer,
  imageSizeBucket,
  METRIC_IMAGE_TRANSFER_DURATION,
  METRIC_IMAGE_TRANSFER_SIZE,
  parseSizeBuckets,
  recordImageTransfer,
  SIZE_BOUNDARIES_BY,
  setImageSizeBuckets,
} from './image-metrics.js';
export {
  type ImageTransferOptions,
  imageTransferExpress,
  imageTransferFastify,
  imageTransferKoa,
  setHttpRoute,
  trackImageTransfer,
  withImageTransfer,
} from './middleware.js';
export { current, type MpOtelHandle, type StartOptions, shutdown, start, traceResponseValue } from './sdk.js';
export { serverSpanFor } from './state.js';
export {
  MAX_TRACESTATE_MEMBERS,
  StrictW3CTraceContextPropagator,
  type TraceStateProblem,
  traceStateProblem,
} from './tracestate.js';
export { VERSION } from './version.js';
