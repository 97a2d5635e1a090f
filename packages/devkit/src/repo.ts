// For development tooling (tests, benches, the stack rehearsal) that needs files of the repository itself
// (catalog/, collector/, grafana/, examples/): published packages never do, they ship their data.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root: the nearest folder above `from` whose package.json lists workspaces. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && Array.isArray(JSON.parse(readFileSync(manifest, 'utf8')).workspaces))
      return dir;
    if (dirname(dir) === dir)
      throw new Error(`no workspace root (package.json with "workspaces") above ${from}`);
  }
}
