// Image service entry point. `npm start` runs it as `node --import @mp-otel/node/register src/server.js`;
// configured by PORT (default 8080), optional STORAGE_DIR, and the standard OTEL_* variables only.
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 8080);
const storageDir = process.env.STORAGE_DIR ?? join(tmpdir(), 'mp-otel-image-service');
const server = createServer(createApp({ storageDir }));
server.keepAliveTimeout = 65_000;
server.listen(port, process.env.HOST ?? '0.0.0.0', () => {
  const address = server.address();
  console.log(`image-service listening on ${typeof address === 'object' && address ? address.port : port}`);
});
