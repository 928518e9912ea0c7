// Preloaded into the benchmark's server process (`node --expose-gc --import ./bench/server-probe.mjs
// dist/main.js`): on SIGUSR2 it runs a full garbage collection and appends one JSON line to
// BENCH_PROBE_FILE: process.memoryUsage(), and the longest the event loop was held up since the
// previous report (`eventLoopMaxMs`, from perf_hooks' event-loop delay histogram) with the longest
// garbage collection pause meanwhile (`gcPauseMaxMs`), and the server's own CPU time in its
// longest holds (`longestHold`, `busiestHold`). It lets a
// benchmark tell live JavaScript memory from RSS the heap has not returned yet, and see whether a
// fan-out blocked the loop; the server itself knows nothing of it. Plain JavaScript, so the server
// runs as it is deployed, without a TypeScript loader.
import fs from 'node:fs';
import { setInterval } from 'node:timers';
import v8 from 'node:v8';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.BENCH_PROBE_FILE;
// BENCH_HEAP_DIR=<dir> (passed in the server's env): each report also writes a heap snapshot
// there, after the collection, to compare what the live heap holds at two moments.
const heapDir = process.env.BENCH_HEAP_DIR;
if (file !== undefined && file !== '') {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  // The longest garbage collection pause, to tell a held loop that was the collector's from ours.
  // Entries arrive after the collection: one that began before the window (the report's own
  // forced collection) is not counted in it.
  let gcMaxMs = 0;
  let windowStart = performance.now();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.startTime >= windowStart) gcMaxMs = Math.max(gcMaxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
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
    holdStart = now;
    holdCpu = process.cpuUsage();
  }, 5).unref();
  process.on('SIGUSR2', () => {
    const eventLoopMaxMs = delay.max / 1e6;
    const gcPauseMaxMs = gcMaxMs;
    const holds = { longestHold, busiestHold };
    globalThis.gc?.();
    // After the collection, so that the next report's longest wait is not this one's own.
    delay.reset();
    gcMaxMs = 0;
    longestHold = { wallMs: 0, cpuMs: 0 };
    busiestHold = { wallMs: 0, cpuMs: 0 };
    holdStart = performance.now();
    holdCpu = process.cpuUsage();
    windowStart = performance.now();
    if (heapDir) v8.writeHeapSnapshot(`${heapDir}/server-${Date.now()}.heapsnapshot`);
    fs.appendFileSync(
      file,
      `${JSON.stringify({ at: Date.now(), eventLoopMaxMs, gcPauseMaxMs, ...holds, ...process.memoryUsage() })}\n`,
    );
  });
}
