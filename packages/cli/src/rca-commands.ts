// mp-otel rca: diagnosis on any leaf table (a CSV file, or a ClickHouse table), through @mp-otel/diagnose's
// shared core. Input errors exit with code 2 and a message (the CLI's 4xx); nothing else is printed then.
import { readFileSync, statSync } from 'node:fs';
import {
  formatRca,
  LEAF_LIMITS,
  type LeafTable,
  parseLeafCsv,
  RcaInputError,
  rcaLeafTable,
  readLeafTable,
} from '@mp-otel/diagnose';
import { openStore } from './open-store.js';

export const RCA_USAGE = `  mp-otel rca --csv FILE --time COL --bad COL --total COL [--dims A,B,…] [--at UNIX_SECONDS] [--json]
  mp-otel rca --table [DB.]TABLE --time COL --bad COL --total COL [--dims A,B,…] [--at UNIX_SECONDS] [--json]
              [--data-dir DIR | --url URL] [--database otel]
              (one row per time × leaf; the other columns are the dimensions; --max-dimensions N, default 3)
`;

export interface RcaArgs {
  csv?: string;
  table?: string;
  time?: string;
  bad?: string;
  total?: string;
  dims?: string;
  at?: string;
  json?: boolean;
  'max-dimensions'?: string;
  'data-dir'?: string;
  url?: string;
  user?: string;
  password?: string;
}

function need(v: string | undefined, flag: string): string {
  if (!v) throw new RcaInputError(`rca needs ${flag}`);
  return v;
}

async function load(v: RcaArgs, database: string, at: number | undefined): Promise<LeafTable> {
  const cols = {
    time: need(v.time, '--time COL'),
    bad: need(v.bad, '--bad COL'),
    total: need(v.total, '--total COL'),
    dims: v.dims
      ?.split(',')
      .map((d) => d.trim())
      .filter(Boolean),
  };
  if (v.csv) {
    let size: number;
    try {
      size = statSync(v.csv).size;
    } catch {
      throw new RcaInputError(`cannot read ${v.csv}`);
    }
    if (size > LEAF_LIMITS.maxBytes)
      throw new RcaInputError(`${v.csv} is larger than ${LEAF_LIMITS.maxBytes} bytes`);
    return parseLeafCsv(readFileSync(v.csv, 'utf8'), cols);
  }
  const table = need(v.table, '--csv FILE or --table TABLE');
  const store = await openStore(v, database);
  try {
    return await readLeafTable({ client: store.client, database: store.database, table, at, ...cols });
  } finally {
    await store.close();
  }
}

export async function rcaCommand(cmd: string, v: RcaArgs, database: string): Promise<number> {
  if (cmd !== 'rca') return -1;
  try {
    if (v.csv && v.table) throw new RcaInputError('rca takes --csv FILE or --table TABLE, not both');
    let at: number | undefined;
    if (v.at !== undefined) {
      if (!/^\d{1,12}$/.test(v.at)) throw new RcaInputError(`--at: not unix seconds: ${v.at}`);
      at = Number(v.at);
    }
    let maxDimensions = 3;
    if (v['max-dimensions'] !== undefined) {
      maxDimensions = Number(v['max-dimensions']);
      if (!Number.isInteger(maxDimensions) || maxDimensions < 1 || maxDimensions > 6)
        throw new RcaInputError('--max-dimensions: an integer from 1 to 6');
    }
    const table = await load(v, database, at);
    const r = rcaLeafTable(table, { at, maxDimensions });
    console.log(
      v.json
        ? JSON.stringify({
            anomaly: r.anomaly ?? null,
            set: r.set,
            culprits: r.culprits,
            rows: r.rows,
            leaves: r.leaves,
          })
        : formatRca(r),
    );
    return 0;
  } catch (err) {
    if (err instanceof RcaInputError) {
      process.stderr.write(`mp-otel rca: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
