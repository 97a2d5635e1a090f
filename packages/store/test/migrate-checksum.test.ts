// An already-applied migration that was edited afterwards is reported (Flyway's validate-on-migrate), never
// silently skipped: the database's schema would not be the one the code expects.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { defaultMigrationsDir, MigrationChangedError, migrate } from '../src/index.js';
import { embedded } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
const dir = mkdtempSync(join(tmpdir(), 'mp-otel-migrations-'));

beforeAll(async () => {
  emb = await embedded({ catalog: false });
  cpSync(defaultMigrationsDir(), dir, { recursive: true });
}, 120_000);
afterAll(async () => {
  await emb?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('an edited applied migration fails the run, names itself, and is reported with allowChanged', async () => {
  const first = await migrate(emb.client, { database: 'checksums', migrationsDir: dir });
  expect(first.changed).toEqual([]);
  expect((await migrate(emb.client, { database: 'checksums', migrationsDir: dir })).changed).toEqual([]);

  appendFileSync(join(dir, '002_otel_logs.sql'), '\n-- an edit after the fact\n');
  const err = await migrate(emb.client, { database: 'checksums', migrationsDir: dir }).catch((e) => e);
  expect(err).toBeInstanceOf(MigrationChangedError);
  expect(err.message).toMatch(/migration 002_otel_logs changed after checksums applied it/);
  expect(err.changed.map((c: { version: number }) => c.version)).toEqual([2]);

  const tolerated = await migrate(emb.client, {
    database: 'checksums',
    migrationsDir: dir,
    allowChanged: true,
  });
  expect(tolerated.changed.map((c) => c.name)).toEqual(['otel_logs']);
  expect(tolerated.applied).toEqual([]);
});
