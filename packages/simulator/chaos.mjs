// Fault injection inside a backend process (`node --import @mp-otel/simulator/chaos …`): while a window of
// the schedule is open, every HTTP response of this process is held for `delayMs` before it is finished,
// so the server's own spans (which end with the response) carry the delay, as a node with a sick disk or
// a long GC pause would. The schedule is the JSON file MP_CHAOS_FILE — [{ "from": epochMs, "to": epochMs,
// "delayMs": n }] — re-read every 250 ms, so the simulator can write it once its clock has started.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const file = process.env.MP_CHAOS_FILE;
if (file) {
  /** @type {{ from: number, to: number, delayMs: number }[]} */
  let schedule = [];
  const load = () => {
    try {
      schedule = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      schedule = [];
    }
  };
  load();
  setInterval(load, 250).unref();
  const end = http.ServerResponse.prototype.end;
  /**
   * end() with any of its overloads' arguments, passed on as they came.
   * @this {http.ServerResponse}
   * @param {unknown[]} args
   */
  http.ServerResponse.prototype.end = function (...args) {
    const now = Date.now();
    const window = schedule.find((w) => now >= w.from && now < w.to);
    const pass = /** @type {Parameters<typeof end>} */ (args);
    if (!window) return end.apply(this, pass);
    setTimeout(() => end.apply(this, pass), window.delayMs);
    return this;
  };
}
