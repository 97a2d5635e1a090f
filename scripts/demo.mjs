// `npm run demo`: the main job on this machine alone (no Docker, no servers to set up). Equivalent to
// `mp-otel demo`; see packages/simulator/src/demo.ts for what it does.
import { main } from '@mp-otel/cli';

process.exitCode = await main(['demo', ...process.argv.slice(2)]);
