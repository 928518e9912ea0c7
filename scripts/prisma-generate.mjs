// Runs `prisma generate` (on `npm install` and `npm run generate`).
//
// The Prisma CLI fetches its native schema engine before every command, even `generate`, which
// never uses it. Where that download is impossible (offline machines, locked-down CI), pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any executable lets `generate` run; a real engine set by the
// caller is left alone.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';
// Generators such as prisma-pothos-types are found on PATH, as npm scripts would find them.
env.PATH = [path.resolve('node_modules/.bin'), env.PATH].join(path.delimiter);

const cli = require.resolve('prisma/build/index.js');
const { status } = spawnSync(process.execPath, [cli, 'generate'], { stdio: 'inherit', env });
process.exit(status ?? 1);
