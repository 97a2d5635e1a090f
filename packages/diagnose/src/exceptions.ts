// The exceptions recorded during an incident, grouped by type and throw location, with their stacks in
// original sources where the release's source maps were uploaded (mp_symbolicated_stacks, filled out of
// band by @mp-otel/sourcemaps; the raw otel_logs rows are never rewritten).
import type { ClickHouseClient } from '@clickhouse/client';
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  ATTR_SERVICE_VERSION,
  EVENT_EXCEPTION,
} from '@mp-otel/contracts/names';
import { queryRows } from './query.js';

export interface ExceptionGroup {
  service: string;
  type: string;
  message: string;
  /** the first frame, "fn (file:line:column)" in original sources when symbolicated, else minified */
  location: string;
  /** the whole stack, symbolicated when maps covered it */
  stack: string;
  symbolicated: boolean;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Exception groups between two moments (epoch ms), most frequent first. */
export async function exceptionGroups(
  client: ClickHouseClient,
  database: string,
  fromMs: number,
  toMs: number,
  limit = 5,
): Promise<ExceptionGroup[]> {
  const db = database;
  const query = `
    SELECT l.ServiceName AS service, type, any(message) AS message,
           if(s.top != '', s.top, l.frame) AS location, any(if(s.stack != '', s.stack, l.raw)) AS stack,
           max(s.top != '') AS symbolicated, count() AS count,
           toUnixTimestamp64Milli(min(l.Timestamp)) AS first, toUnixTimestamp64Milli(max(l.Timestamp)) AS last
      FROM (SELECT ServiceName, Timestamp, ResourceAttributes[{version:String}] AS release,
                   LogAttributes[{stackKey:String}] AS raw, cityHash64(raw) AS hash,
                   LogAttributes[{typeKey:String}] AS type, LogAttributes[{messageKey:String}] AS message,
                   trimBoth(arrayFirst(x -> match(x, ':[0-9]+:[0-9]+'), splitByChar('\\n', raw))) AS frame
              FROM ${db}.otel_logs
             WHERE Timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND Timestamp < fromUnixTimestamp64Milli({to:Int64})
               AND (EventName = {event:String} OR LogAttributes[{typeKey:String}] != '')) AS l
      LEFT JOIN (SELECT ServiceName, Release, StackHash, argMax(TopFrame, SymbolicatedAt) AS top,
                        argMax(Stack, SymbolicatedAt) AS stack
                   FROM ${db}.mp_symbolicated_stacks GROUP BY ServiceName, Release, StackHash) AS s
        ON s.ServiceName = l.ServiceName AND s.Release = l.release AND s.StackHash = l.hash
     GROUP BY service, type, location ORDER BY count DESC, service, type LIMIT {limit:UInt32}`;
  const rows = await queryRows<Record<string, string | number>>(client, query, {
    from: Math.floor(fromMs),
    to: Math.ceil(toMs),
    limit,
    event: EVENT_EXCEPTION,
    version: ATTR_SERVICE_VERSION,
    stackKey: ATTR_EXCEPTION_STACKTRACE,
    typeKey: ATTR_EXCEPTION_TYPE,
    messageKey: ATTR_EXCEPTION_MESSAGE,
  });
  return rows.map((r) => ({
    service: String(r.service),
    type: String(r.type),
    message: String(r.message),
    location: String(r.location),
    stack: String(r.stack),
    symbolicated: Number(r.symbolicated) > 0,
    count: Number(r.count),
    firstSeenMs: Number(r.first),
    lastSeenMs: Number(r.last),
  }));
}
