// Incidents: the provisioned alert rules (@mp-otel/grafana alertRules — the same SQL Grafana's rules run)
// evaluated on a schedule in the store process; when one starts firing, an incident opens with the
// diagnosis (@mp-otel/diagnose: anomaly, culprits with their evidence, the layer verdict) and the HTML report.
import type { Catalog } from '@mp-otel/contracts';
import { type Diagnosis, diagnose, renderReport } from '@mp-otel/diagnose';
import { type AlertResult, alertRules, evaluateAlerts } from '@mp-otel/grafana';
import type { StoreReader } from './store-client.js';

export interface RuleState {
  rule: string;
  route: string;
  severity: string;
  state: 'firing' | 'ok' | 'nodata';
  /** when the rule entered its state (evaluation time, epoch ms) */
  since: number;
  value: number;
  threshold: number;
}

export interface Incident {
  id: number;
  rule: string;
  route: string;
  severity: string;
  firedAt: number;
  resolvedAt?: number;
  value: number;
  threshold: number;
  diagnosis?: Diagnosis;
  diagnosedAt?: number;
}

export class IncidentWatcher {
  private readonly rules;
  private readonly states = new Map<string, RuleState>();
  readonly incidents: Incident[] = [];
  evaluatedAt?: number;
  /** the moment the last evaluation looked at (the newest data, at most now) */
  at?: number;
  lastError?: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    catalog: Catalog,
    private readonly reader: StoreReader,
    private readonly intervalMs: number,
  ) {
    this.rules = alertRules(catalog);
  }

  start(): void {
    const tick = () => {
      if (!this.running) this.running = this.evaluate().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /**
   * One evaluation at the newest minute the store holds (at most now): on a live system that is now; on a
   * replayed or imported run it is the run's own present, so its incidents appear as they would have.
   */
  async evaluate(now = Date.now()): Promise<void> {
    try {
      const newest = await this.reader.select(
        'SELECT toUnixTimestamp(max(Minute)) AS m, count() AS n FROM mp_sli_route_1m',
      );
      const row = newest.rows[0] as { m?: number | string; n?: number | string } | undefined;
      const m = Number(row?.m ?? 0);
      const at = Number(row?.n ?? 0) > 0 && m > 0 ? Math.min(now, (m + 60) * 1000) : now;
      const results = await evaluateAlerts({ client: this.reader.client(), rules: this.rules, at });
      this.apply(results, at);
      this.at = at;
      this.evaluatedAt = now;
      this.lastError = undefined;
      for (const inc of this.incidents)
        if (!inc.resolvedAt && !inc.diagnosis?.culprits.length) await this.diagnose(inc, at);
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  private apply(results: AlertResult[], at: number) {
    for (const r of results) {
      const key = `${r.rule}\u0000${r.route}`;
      const state: RuleState['state'] = r.noData ? 'nodata' : r.firing ? 'firing' : 'ok';
      const prev = this.states.get(key);
      const since = prev && prev.state === state ? prev.since : at;
      this.states.set(key, {
        rule: r.rule,
        route: r.route,
        severity: r.severity,
        state,
        since,
        value: r.value,
        threshold: r.threshold,
      });
      const open = this.incidents.find((i) => i.rule === r.rule && i.route === r.route && !i.resolvedAt);
      if (state === 'firing' && !open)
        this.incidents.unshift({
          id: this.incidents.length + 1,
          rule: r.rule,
          route: r.route,
          severity: r.severity,
          firedAt: at,
          value: r.value,
          threshold: r.threshold,
        });
      else if (state === 'firing' && open) open.value = r.value;
      else if (state !== 'firing' && open) open.resolvedAt = at;
    }
  }

  private async diagnose(inc: Incident, at: number) {
    inc.diagnosis = await diagnose({
      client: this.reader.client(),
      database: this.reader.database,
      at,
      route: inc.route,
    });
    inc.diagnosedAt = at;
  }

  get(id: number): Incident | undefined {
    return this.incidents.find((i) => i.id === id);
  }

  snapshot() {
    return {
      evaluatedAt: this.evaluatedAt,
      at: this.at,
      intervalMs: this.intervalMs,
      error: this.lastError,
      rules: [...this.states.values()].sort(
        (a, b) => Number(b.state === 'firing') - Number(a.state === 'firing') || a.rule.localeCompare(b.rule),
      ),
      incidents: this.incidents,
    };
  }

  /** The HTML incident report of one incident (the report `mp-otel report` writes). */
  async report(inc: Incident): Promise<string> {
    const diagnosis =
      inc.diagnosis ??
      (await diagnose({ client: this.reader.client(), database: this.reader.database, at: inc.firedAt }));
    return renderReport({
      client: this.reader.client(),
      database: this.reader.database,
      diagnosis,
      title: `mp-otel incident #${inc.id}: ${inc.rule}`,
      events: [
        { atMs: inc.firedAt, label: `alert fired: ${inc.rule}` },
        ...(inc.diagnosedAt ? [{ atMs: inc.diagnosedAt, label: 'culprit named by mp-otel diagnose' }] : []),
      ],
    });
  }
}
