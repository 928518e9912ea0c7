// Preloaded into the benchmark's server process (`node --expose-gc --import ./bench/server-probe.mjs
// dist/main.js`): on SIGUSR2 it runs a full garbage collection and appends process.memoryUsage()
// as one JSON line to BENCH_PROBE_FILE. It lets a benchmark tell live JavaScript memory from RSS
// the heap has not returned yet; the server itself knows nothing of it. Plain JavaScript, so the
// server runs as it is deployed, without a TypeScript loader.
import fs from 'node:fs';

const file = process.env.BENCH_PROBE_FILE;
if (file !== undefined && file !== '') {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    fs.appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...process.memoryUsage() })}\n`);
  });
}
