/**
 * `node --import @mp-otel/node/register server.js`
 *
 * Registers the ESM loader hook of import-in-the-middle (needed so that `import http from 'node:http'` in an
 * ES module service is instrumented; CommonJS `require` is patched by require-in-the-middle), restricted to
 * the modules instrumentations actually hook, then starts the SDK from OTEL_* environment variables.
 */
import * as nodeModule from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';

const disabled = process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
let waitForHooks: (() => Promise<void>) | undefined;
if (!disabled && typeof nodeModule.register === 'function') {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  nodeModule.register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  waitForHooks = waitForAllMessagesAcknowledged;
}

const { start } = await import('./sdk.js');
try {
  start();
} catch (err) {
  // The service must start even when telemetry cannot.
  process.stderr.write(`mp-otel: not started: ${(err as Error).stack ?? err}\n`);
}
await waitForHooks?.();
