// Benches that need chDB run that part in a child process (chDB allows one data directory per process):
// the bench file re-runs itself with --child, which prints one `ROWS <json>` line with its result.

/** Whether this process is the child of runChild. */
export const isChild = () => process.argv.includes('--child');

/** Prints the child's result for runChild. */
export const childResult = (/** @type {unknown} */ value) =>
  process.stdout.write(`ROWS ${JSON.stringify(value)}\n`);

/**
 * Runs `file` with --child and resolves with what it printed through childResult.
 * @param {string} file the bench file's own path (fileURLToPath(import.meta.url))
 * @param {string} label for the error when the child fails
 * @param {readonly string[]} [nodeFlags] node's own flags for the child (before the file)
 * @returns {Promise<any>}
 */
export async function runChild(file, label, nodeFlags = []) {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, file, '--child'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('ROWS '));
      if (code !== 0 || !line) reject(new Error(`${label} child exited with ${code}`));
      else resolve(JSON.parse(line.slice(5)));
    });
  });
}
