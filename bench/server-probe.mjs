// Preloaded into the benchmark's server process (`node --expose-gc --import ./bench/server-probe.mjs
// dist/main.js`): on SIGUSR2 it runs a full garbage collection and appends one JSON line to
// BENCH_PROBE_FILE: process.memoryUsage(), and the longest the event loop was held up since the
// previous report (`eventLoopMaxMs`, from perf_hooks' event-loop delay histogram). It lets a
// benchmark tell live JavaScript memory from RSS the heap has not returned yet, and see whether a
// fan-out blocked the loop; the server itself knows nothing of it. Plain JavaScript, so the server
// runs as it is deployed, without a TypeScript loader.
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.BENCH_PROBE_FILE;
if (file !== undefined && file !== '') {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  process.on('SIGUSR2', () => {
    const eventLoopMaxMs = delay.max / 1e6;
    delay.reset();
    globalThis.gc?.();
    fs.appendFileSync(file, `${JSON.stringify({ at: Date.now(), eventLoopMaxMs, ...process.memoryUsage() })}\n`);
  });
}
