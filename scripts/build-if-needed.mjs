// `npm start` runs this first: compiles src/ to dist/ (incrementally, so an unchanged tree costs a
// second or two). A production tree has no TypeScript (`npm ci --omit=dev`, the image): there the
// build it shipped with is used as it is, and a tree with neither says what to do.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  if (existsSync('dist/main.js')) process.exit(0);
  console.error(
    'No dist/ to start and no TypeScript to build it: run `npm ci` (with dev dependencies) and `npm run build`.',
  );
  process.exit(1);
}
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(status ?? 1);
