// @mp-otel/sourcemaps: source maps for mini-program exception stacks, for the CLI, the report and the
// console. `openSourceMaps(store)` → `{ upload(dir, release), symbolicate(stack, release) }`.
import { type Symbolicated, symbolicate, type UploadResult, upload } from './maps.js';
import type { MapStore } from './store.js';

export {
  enclosingFunction,
  type Symbolicated,
  type SymbolicatedFrame,
  symbolicate,
  type UploadResult,
  upload,
} from './maps.js';
export { type PendingOptions, symbolicatePending } from './pending.js';
export { type Frame, normalizePath, parseStack, type StackLine } from './stack.js';
export { clickhouseStore, directoryStore, type MapStore, type SqlClient } from './store.js';

export interface SourceMaps {
  upload(dir: string, release: string, service?: string): Promise<UploadResult>;
  symbolicate(stack: string, release: string, service?: string): Promise<Symbolicated>;
}

export function openSourceMaps(store: MapStore): SourceMaps {
  return {
    upload: (dir, release, service) => upload(store, { dir, release, service }),
    symbolicate: (stack, release, service) => symbolicate(store, stack, release, service),
  };
}
