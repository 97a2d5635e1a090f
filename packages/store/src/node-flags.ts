// Node (V8) flags for a process that runs the embedded receiver at full ingest speed: `mp-otel up`,
// `npm run demo` and the storage bench. They size the heap when the process starts, so they cannot be set
// from inside it, and Node refuses this one in NODE_OPTIONS: they go on node's command line.
//
// Why: the receiver's main thread keeps a small old generation (~15 MB) while allocating short-lived
// objects fast (each request's HTTP objects, a view per row copied into the scratch file). V8 (11.3 in
// Node 20, 13.6 in Node 24 alike) then sets the old generation's limit a young generation's worth above its
// size and starts incremental marking as soon as so little room is left: every young-generation fill ends in
// a full mark-compact instead of a scavenge (about 8 a second at full ingest, ~0.1 s of main-thread GC a
// second, plus the helpers' concurrent marking). A 64 MB floor under that limit leaves the room; the
// process may hold up to ~50 MB more garbage per isolate before it is collected.
// Measured in the storage bench (README, "Benchmarks"): full collections 50 → 15 in 6 s of ingest, CPU a
// span 15.0-16.3 → 13.7-14.8 µs in five alternating pairs on Node 20.

/** The flags, in the form node's command line takes them. */
export const EMBEDDED_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** Those of EMBEDDED_NODE_FLAGS this process was not started with (compared by name, any value accepted). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const name = (f: string) => f.split('=')[0]!.replace(/_/g, '-');
  const given = new Set(execArgv.map(name));
  return EMBEDDED_NODE_FLAGS.filter((f) => !given.has(name(f)));
}
