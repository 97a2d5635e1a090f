// The store a read-only command queries: the embedded one on --data-dir (or the default data directory), or
// a ClickHouse server at --url as the read-only user (credentials found as `mp-otel query` finds them).
import { createClient } from '@clickhouse/client';
import { startEmbedded } from '@mp-otel/store';
import { clientAuth } from './credentials.js';

export interface StoreFlags {
  'data-dir'?: string;
  url?: string;
  user?: string;
  password?: string;
}

export async function openStore(v: StoreFlags, database: string) {
  if (v['data-dir'] || !v.url) {
    const emb = await startEmbedded({
      dataDir: v['data-dir'],
      otlpPort: 0,
      httpPort: 0,
      catalog: false,
      geo: false,
      log: () => {},
    });
    return { client: emb.client, database: emb.database, close: () => emb.close() };
  }
  const auth = clientAuth({ user: v.user, password: v.password, url: v.url, role: 'reader' });
  const client = createClient({ url: v.url, username: auth.username, password: auth.password });
  return { client, database, close: () => client.close() };
}
