// Preloaded into the benchmark's server process (`node --expose-gc --import ./bench/server-probe.mjs
// dist/main.js`): on SIGUSR2 it runs a full garbage collection and appends one JSON line to
// BENCH_PROBE_FILE: process.memoryUsage(), and the longest the event loop was held up since the
// previous report (`eventLoopMaxMs`, from perf_hooks' event-loop delay histogram) with the longest
// garbage collection pause meanwhile (`gcPauseMaxMs`, `gcPauseMaxKind`) and every collection's
// count and time by kind (`gcs`), and the server's own CPU time in its longest holds
// (`longestHold`, `busiestHold`); on SIGWINCH the same after a collection that also gives memory
// back (below). It lets a benchmark tell live JavaScript memory from RSS the heap has not returned
// yet, and see whether a fan-out blocked the loop; the server itself knows nothing of it. Plain
// JavaScript, so the server runs as it is deployed, without a TypeScript loader.
import fs from 'node:fs';
import { setInterval } from 'node:timers';
import v8 from 'node:v8';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.BENCH_PROBE_FILE;
// BENCH_HEAP_DIR=<dir> (passed in the server's env): each report also writes a heap snapshot
// there, after the collection, to compare what the live heap holds at two moments.
const heapDir = process.env.BENCH_HEAP_DIR;
// BENCH_HOLDS_FILE=<file> (in the server's env): every hold of BENCH_HOLDS_OVER_MS (default 40) or
// more is appended there as a JSON line, with its start and end on the clock V8 stamps CPU profile
// samples with (microseconds), and the collections that ran in it; `bench/profile-summary.ts
// --holds <file>` keeps only the samples taken in those holds.
const holdsFile = process.env.BENCH_HOLDS_FILE;
const holdsOverMs = Number(process.env.BENCH_HOLDS_OVER_MS ?? 40);
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak callbacks' };
if (file !== undefined && file !== '') {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  // The longest garbage collection pause, to tell a held loop that was the collector's from ours.
  // Entries arrive after the collection: one that began before the window (the report's own
  // forced collection) is not counted in it.
  let gcMaxMs = 0;
  let gcMaxKind = '';
  /** Collections since the last report, by kind: how many and how long in all (ms). */
  let gcTotals = {};
  let windowStart = performance.now();
  /** The collections since the last tick of the probe's timer, for BENCH_HOLDS_FILE. */
  let recentGcs = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[entry.detail?.kind] ?? String(entry.detail?.kind);
      if (entry.startTime >= windowStart) {
        const total = (gcTotals[kind] ??= { count: 0, ms: 0 });
        total.count++;
        total.ms += entry.duration;
      }
      if (holdsFile) recentGcs.push({ startMs: entry.startTime, ms: entry.duration, kind });
      if (entry.startTime >= windowStart && entry.duration > gcMaxMs) {
        gcMaxMs = entry.duration;
        gcMaxKind = kind;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  // performance.now() to the profile's clock (process.hrtime, in microseconds).
  const hrtimeUsAt = (now) => Number(process.hrtime.bigint() / 1000n) - (performance.now() - now) * 1000;
  // The same holds seen by a timer of our own, each with the process's CPU time in it (user and
  // system, every thread): a hold the server spent working, or one it spent off the CPU,
  // descheduled while other processes on the same cores ran (the subscribers' processes, woken by
  // its writes). `longestHold` is the longest by the clock; `busiestHold`, the one with the most CPU.
  let holdStart = performance.now();
  let holdCpu = process.cpuUsage();
  let longestHold = { wallMs: 0, cpuMs: 0 };
  let busiestHold = { wallMs: 0, cpuMs: 0 };
  setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(holdCpu);
    const hold = { wallMs: now - holdStart, cpuMs: (used.user + used.system) / 1000 };
    if (hold.wallMs > longestHold.wallMs) longestHold = hold;
    if (hold.cpuMs > busiestHold.cpuMs) busiestHold = hold;
    if (holdsFile && hold.wallMs >= holdsOverMs) {
      const gcs = recentGcs.filter((gc) => gc.startMs >= holdStart);
      const line = { ...hold, startUs: Math.round(hrtimeUsAt(holdStart)), endUs: Math.round(hrtimeUsAt(now)), gcs };
      fs.appendFileSync(holdsFile, `${JSON.stringify(line)}\n`);
    }
    recentGcs = [];
    holdStart = now;
    holdCpu = process.cpuUsage();
  }, 5).unref();
  const report = (collect) => {
    const eventLoopMaxMs = delay.max / 1e6;
    const gcPauseMaxMs = gcMaxMs;
    const gcPauseMaxKind = gcMaxKind;
    const gcs = gcTotals;
    const holds = { longestHold, busiestHold };
    collect();
    // After the collection, so that the next report's longest wait is not this one's own.
    delay.reset();
    gcMaxMs = 0;
    gcMaxKind = '';
    gcTotals = {};
    longestHold = { wallMs: 0, cpuMs: 0 };
    busiestHold = { wallMs: 0, cpuMs: 0 };
    holdStart = performance.now();
    holdCpu = process.cpuUsage();
    windowStart = performance.now();
    if (heapDir) v8.writeHeapSnapshot(`${heapDir}/server-${Date.now()}.heapsnapshot`);
    fs.appendFileSync(
      file,
      `${JSON.stringify({ at: Date.now(), eventLoopMaxMs, gcPauseMaxMs, gcPauseMaxKind, gcs, ...holds, ...process.memoryUsage() })}\n`,
    );
  };
  process.on('SIGUSR2', () => report(() => globalThis.gc?.()));
  // For the RSS figures: the collection V8 makes before giving up on memory, a full one that also
  // hands the pages it freed back to the system, as its memory reducer does by itself some seconds
  // after a process goes idle. After a plain one the RSS kept whatever the rounds before had
  // allocated, and swung by tens of MiB between readings. Node 20's V8 takes no flavor and makes a
  // plain full collection. Not before the windows above: it would spare them the memory reducer's
  // own pause, which an idle server does meet.
  process.on('SIGWINCH', () =>
    report(() => globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' })),
  );
}
