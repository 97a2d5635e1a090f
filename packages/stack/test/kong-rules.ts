// Kong 3.9's declarative-config rules, transcribed field by field from Kong 3.9.3's schema files
// (kong/db/schema/entities/{services,routes,plugins,consumers}.lua, kong/db/schema/typedefs.lua, the
// opentelemetry, key-auth and rate-limiting plugin schemas, kong/tools/queue_schema.lua), as far as is
// possible without Kong. Shared by the tests of kong/kong.yml and of generated configs.
/** parsed YAML of any shape */
export type Any = any;

const SERVICE_FIELDS = new Set([
  'id',
  'name',
  'retries',
  'protocol',
  'host',
  'port',
  'path',
  'connect_timeout',
  'write_timeout',
  'read_timeout',
  'tags',
  'client_certificate',
  'tls_verify',
  'tls_verify_depth',
  'ca_certificates',
  'enabled',
  'url',
  'routes',
  'plugins',
]);
const ROUTE_FIELDS = new Set([
  'id',
  'name',
  'protocols',
  'https_redirect_status_code',
  'strip_path',
  'preserve_host',
  'request_buffering',
  'response_buffering',
  'tags',
  'service',
  'snis',
  'sources',
  'destinations',
  'methods',
  'hosts',
  'paths',
  'headers',
  'regex_priority',
  'path_handling',
  'expression',
  'priority',
  'plugins',
]);
const PLUGIN_FIELDS = new Set([
  'id',
  'name',
  'instance_name',
  'route',
  'service',
  'consumer',
  'config',
  'protocols',
  'enabled',
  'tags',
]);
const OTEL_CONFIG_FIELDS = new Set([
  'traces_endpoint',
  'logs_endpoint',
  'headers',
  'resource_attributes',
  'queue',
  'batch_span_count',
  'batch_flush_delay',
  'connect_timeout',
  'send_timeout',
  'read_timeout',
  'http_response_header_for_traceid',
  'header_type',
  'sampling_rate',
  'propagation',
  'endpoint',
]);
const PROPAGATION_FORMATS = ['w3c', 'b3', 'b3-single', 'jaeger', 'ot', 'datadog', 'aws', 'gcp'];
const QUEUE_RANGES: Record<string, [number, number]> = {
  max_batch_size: [1, 1_000_000],
  max_coalescing_delay: [0, 3600],
  max_entries: [1, 1_000_000],
  max_retry_time: [0, Number.MAX_SAFE_INTEGER],
  initial_retry_delay: [0.001, 1_000_000],
  max_retry_delay: [0.001, 1_000_000],
};
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];
// kong/plugins/key-auth/schema.lua, kong/plugins/rate-limiting/schema.lua (3.9.3; DB-less: policy local|redis),
// kong/db/schema/entities/consumers.lua, kong/plugins/key-auth/daos.lua
const KEY_AUTH_FIELDS = new Set([
  'key_names',
  'hide_credentials',
  'anonymous',
  'key_in_header',
  'key_in_query',
  'key_in_body',
  'run_on_preflight',
  'realm',
]);
const RATE_LIMITING_FIELDS = new Set([
  'second',
  'minute',
  'hour',
  'day',
  'month',
  'year',
  'limit_by',
  'header_name',
  'path',
  'policy',
  'fault_tolerant',
  'redis',
  'hide_client_headers',
  'error_code',
  'error_message',
  'sync_rate',
]);
const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'];
const CONSUMER_FIELDS = new Set(['id', 'username', 'custom_id', 'tags', 'keyauth_credentials', 'plugins']);

/** Returns every rule violation (empty = valid). */
export function checkKongConfig(doc: Any): string[] {
  const errors: string[] = [];
  const err = (where: string, msg: string) => errors.push(`${where}: ${msg}`);
  const tagOk = (t: unknown) =>
    typeof t === 'string' && t.length > 0 && /^[\x21-\x7e\u0080-\uffff]+$/.test(t) && !/[,/]/.test(t);
  const utf8NameOk = (n: unknown) => typeof n === 'string' && /^[\p{L}\p{N}._~-]+$/u.test(n);
  const checkTags = (where: string, tags: unknown) => {
    if (tags === undefined) return;
    if (!Array.isArray(tags)) return err(where, 'tags must be an array');
    if (new Set(tags).size !== tags.length) err(where, 'tags must be a set (no duplicates)');
    for (const t of tags)
      if (!tagOk(t)) err(where, `invalid tag ${JSON.stringify(t)} (printable, no ',' or '/')`);
  };
  const checkUrl = (where: string, u: unknown) => {
    try {
      const url = new URL(String(u));
      if (!['http:', 'https:'].includes(url.protocol)) err(where, `url scheme ${url.protocol}`);
    } catch {
      err(where, `invalid url ${JSON.stringify(u)}`);
    }
  };
  const checkPlugin = (where: string, p: Any, scope = 'other') => {
    for (const k of Object.keys(p)) if (!PLUGIN_FIELDS.has(k)) err(where, `unknown plugin field ${k}`);
    checkTags(where, p.tags);
    if (p.name === 'key-auth') {
      if (scope === 'consumer') err(where, 'key-auth cannot be configured on a consumer (no_consumer)');
      const c = p.config ?? {};
      for (const k of Object.keys(c)) if (!KEY_AUTH_FIELDS.has(k)) err(where, `unknown key-auth field ${k}`);
      for (const n of c.key_names ?? ['apikey'])
        if (typeof n !== 'string' || !/^[A-Za-z0-9_-]+$/.test(n)) err(where, `bad key name ${n}`);
      for (const k of [
        'hide_credentials',
        'key_in_header',
        'key_in_query',
        'key_in_body',
        'run_on_preflight',
      ])
        if (c[k] !== undefined && typeof c[k] !== 'boolean') err(where, `${k} must be boolean`);
      return;
    }
    if (p.name === 'rate-limiting') {
      const c = p.config ?? {};
      for (const k of Object.keys(c))
        if (!RATE_LIMITING_FIELDS.has(k)) err(where, `unknown rate-limiting field ${k}`);
      const set = PERIODS.filter((k) => c[k] !== undefined);
      if (!set.length) err(where, 'at_least_one_of second, minute, hour, day, month, year');
      for (const k of set) if (!(typeof c[k] === 'number' && c[k] > 0)) err(where, `${k} must be > 0`);
      for (let i = 0; i < set.length; i++)
        for (let j = i + 1; j < set.length; j++)
          if (c[set[j] as string] < c[set[i] as string])
            err(where, `the limit for ${set[j]} cannot be lower than the limit for ${set[i]}`);
      if (
        c.limit_by !== undefined &&
        !['consumer', 'credential', 'ip', 'service', 'header', 'path'].includes(c.limit_by)
      )
        err(where, `bad limit_by ${c.limit_by}`);
      if (c.policy !== undefined && !['local', 'redis'].includes(c.policy))
        err(where, `policy ${c.policy} is not available without a database (local, redis)`);
      if (c.error_code !== undefined && !(typeof c.error_code === 'number' && c.error_code > 0))
        err(where, 'error_code must be > 0');
      return;
    }
    if (p.name !== 'opentelemetry') return;
    const c = p.config ?? {};
    for (const k of Object.keys(c))
      if (!OTEL_CONFIG_FIELDS.has(k)) err(where, `unknown opentelemetry config field ${k}`);
    if (!c.traces_endpoint && !c.logs_endpoint && !c.endpoint)
      err(where, 'at_least_one_of traces_endpoint, logs_endpoint');
    if (c.traces_endpoint) checkUrl(`${where}.traces_endpoint`, c.traces_endpoint);
    if (
      c.sampling_rate !== undefined &&
      !(typeof c.sampling_rate === 'number' && c.sampling_rate >= 0 && c.sampling_rate <= 1)
    ) {
      err(where, 'sampling_rate must be a number between 0 and 1');
    }
    if (c.resource_attributes !== undefined) {
      for (const [k, v] of Object.entries(c.resource_attributes)) {
        if (typeof v !== 'string' || v === '')
          err(where, `resource_attributes.${k} must be a non-empty string`);
      }
    }
    if (
      c.http_response_header_for_traceid !== undefined &&
      !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(c.http_response_header_for_traceid)
    ) {
      err(where, 'http_response_header_for_traceid is not a header name');
    }
    if (c.propagation) {
      const pr = c.propagation;
      for (const k of Object.keys(pr))
        if (!['extract', 'clear', 'inject', 'default_format'].includes(k))
          err(where, `unknown propagation field ${k}`);
      for (const f of pr.extract ?? [])
        if (!PROPAGATION_FORMATS.filter((x) => x !== 'b3-single').includes(f))
          err(where, `bad extract format ${f}`);
      for (const f of pr.inject ?? [])
        if (![...PROPAGATION_FORMATS, 'preserve'].includes(f)) err(where, `bad inject format ${f}`);
      if (!PROPAGATION_FORMATS.includes(pr.default_format))
        err(where, 'propagation.default_format is required and must be a format');
    }
    if (c.queue) {
      for (const [k, v] of Object.entries(c.queue)) {
        const range = QUEUE_RANGES[k];
        if (!range) err(where, `unknown queue field ${k}`);
        else if (typeof v !== 'number' || v < range[0] || v > range[1]) err(where, `queue.${k} out of range`);
      }
    }
  };

  if (doc?._format_version !== '3.0') err('root', '_format_version must be "3.0"');
  for (const k of Object.keys(doc ?? {})) {
    if (
      ![
        '_format_version',
        '_transform',
        '_comment',
        '_workspace',
        'services',
        'routes',
        'plugins',
        'consumers',
        'upstreams',
        'certificates',
        'ca_certificates',
        'snis',
        'vaults',
        'keys',
        'key_sets',
      ].includes(k)
    ) {
      err('root', `unknown top-level key ${k}`);
    }
  }
  const names = { service: new Set<string>(), route: new Set<string>() };
  for (const [si, s] of (doc.services ?? []).entries()) {
    const where = `services[${si}] ${s.name}`;
    for (const k of Object.keys(s)) if (!SERVICE_FIELDS.has(k)) err(where, `unknown service field ${k}`);
    if (!utf8NameOk(s.name)) err(where, 'invalid name');
    if (names.service.has(s.name)) err(where, 'duplicate service name');
    names.service.add(s.name);
    if (s.url) checkUrl(where, s.url);
    else if (!s.host) err(where, 'url or host required');
    checkTags(where, s.tags);
    for (const [pi, p] of (s.plugins ?? []).entries()) checkPlugin(`${where}.plugins[${pi}]`, p);
    for (const [ri, r] of (s.routes ?? []).entries()) {
      const rw = `${where}.routes[${ri}] ${r.name}`;
      for (const k of Object.keys(r)) if (!ROUTE_FIELDS.has(k)) err(rw, `unknown route field ${k}`);
      if (!utf8NameOk(r.name)) err(rw, 'invalid name');
      if (names.route.has(r.name)) err(rw, 'duplicate route name');
      names.route.add(r.name);
      if (!(r.methods?.length || r.paths?.length || r.hosts?.length || r.headers))
        err(rw, 'needs methods, hosts, paths or headers');
      for (const m of r.methods ?? []) if (!HTTP_METHODS.includes(m)) err(rw, `bad method ${m}`);
      for (const p of r.paths ?? []) {
        if (typeof p !== 'string') err(rw, 'path must be a string');
        else if (p.startsWith('~')) {
          try {
            new RegExp(p.slice(1));
          } catch {
            err(rw, `regex path does not compile: ${p}`);
          }
          if (!p.startsWith('~/')) err(rw, 'regex paths must start with ~/');
        } else if (!/^\/[\w.\-~/%:@!$&'()*+,;=]*$/.test(p) || p.includes('//')) err(rw, `invalid path ${p}`);
      }
      if (r.strip_path !== undefined && typeof r.strip_path !== 'boolean')
        err(rw, 'strip_path must be boolean');
      checkTags(rw, r.tags);
      for (const [pi, p] of (r.plugins ?? []).entries()) checkPlugin(`${rw}.plugins[${pi}]`, p);
      // a route-scoped plugin may appear once per name
      const pn = (r.plugins ?? []).map((p: Any) => p.name);
      if (new Set(pn).size !== pn.length) err(rw, 'duplicate plugin on route');
    }
  }
  for (const [pi, p] of (doc.plugins ?? []).entries()) checkPlugin(`plugins[${pi}]`, p);
  const consumerNames = new Set<string>();
  const keys = new Set<string>();
  for (const [ci, c] of (doc.consumers ?? []).entries()) {
    const where = `consumers[${ci}] ${c.username}`;
    for (const k of Object.keys(c)) if (!CONSUMER_FIELDS.has(k)) err(where, `unknown consumer field ${k}`);
    if (!c.username && !c.custom_id) err(where, 'at_least_one_of custom_id, username');
    if (consumerNames.has(c.username)) err(where, 'duplicate username');
    consumerNames.add(c.username);
    checkTags(where, c.tags);
    for (const [ki, k] of (c.keyauth_credentials ?? []).entries()) {
      for (const f of Object.keys(k))
        if (!['id', 'key', 'tags', 'ttl'].includes(f))
          err(`${where}.keyauth_credentials[${ki}]`, `unknown field ${f}`);
      if (typeof k.key !== 'string' || !k.key) err(`${where}.keyauth_credentials[${ki}]`, 'key required');
      if (keys.has(k.key)) err(`${where}.keyauth_credentials[${ki}]`, 'key must be unique');
      keys.add(k.key);
      checkTags(`${where}.keyauth_credentials[${ki}]`, k.tags);
    }
    for (const [pi, p] of (c.plugins ?? []).entries()) checkPlugin(`${where}.plugins[${pi}]`, p, 'consumer');
  }
  return errors;
}
