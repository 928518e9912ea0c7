// Where a V8 CPU profile's time went, as markdown: self time grouped by package (or by our own
// source file), the time each package was on the stack at all (what it and everything it called
// took), and the functions that took the most. For profiles the server writes when started by a
// benchmark with SERVER_CPU_PROF=<dir>; `--from`/`--to` keep the samples taken that many seconds
// after the profile began (a phase of a run, read off the benchmark's log).
//
// `--holds <file>` keeps only the samples taken during the long holds that bench/server-probe.mjs
// wrote to BENCH_HOLDS_FILE (the same run's), to see what held the event loop.
//
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [--from s] [--to s] [--holds file]
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `graphql`, `@prisma/client`, `dist/events/feed.js`, `(garbage collector)`, `node:internal`, ... */
function placeOf({ functionName, url }: ProfileNode['callFrame']): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  // dist/: the compiled server that bench/server-process.ts starts.
  const own = /\/((?:src|dist|bench)\/.+)$/.exec(url);
  return own?.[1] ?? url;
}

function main(): void {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    if (at < 0) return undefined;
    const [, value] = args.splice(at, 2);
    return Number(value) * 1e6;
  };
  const holdsAt = args.indexOf('--holds');
  const holds =
    holdsAt < 0
      ? undefined
      : fs
          .readFileSync(args.splice(holdsAt, 2)[1]!, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { startUs: number; endUs: number });
  const from = option('--from') ?? 0;
  const to = option('--to') ?? Infinity;
  const [file, top = '15'] = args;
  if (file === undefined)
    throw new Error('Usage: bench/profile-summary.ts <file.cpuprofile> [top] [--from s] [--to s] [--holds file]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const self = new Map<number, number>();
  /** Per package, the time of the samples it was anywhere on the stack of, each sample once. */
  const onStack = new Map<string, number>();
  let at = 0;
  profile.samples.forEach((id, i) => {
    const time = profile.timeDeltas[i] ?? 0;
    at += time;
    if (at < from || at > to) return;
    const stamp = profile.startTime + at;
    if (holds !== undefined && !holds.some((hold) => stamp >= hold.startUs && stamp <= hold.endUs)) return;
    self.set(id, (self.get(id) ?? 0) + time);
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parentOf.get(node)) {
      const place = placeOf(byId.get(node)!.callFrame);
      if (place === '(root)' || seen.has(place)) continue;
      seen.add(place);
      onStack.set(place, (onStack.get(place) ?? 0) + time);
    }
  });
  const total = [...self.values()].reduce((sum, time) => sum + time, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)');
  const busy = total - idle.reduce((sum, [, time]) => sum + time, 0);

  const add = (map: Map<string, number>, key: string, time: number) => map.set(key, (map.get(key) ?? 0) + time);
  const places = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    add(places, placeOf(frame), time);
    add(functions, `${frame.functionName || '(anonymous)'} (${placeOf(frame)}:${frame.lineNumber + 1})`, time);
  }
  const table = (title: string, map: Map<string, number>) => {
    const column = map === onStack ? 'ms' : 'self ms';
    console.log(`\n| ${title} | ${column} | share of busy time |\n|---|---|---|`);
    for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
      console.log(`| ${name} | ${(time / 1000).toFixed(0)} | ${((100 * time) / busy).toFixed(1)}% |`);
    }
  };
  const window =
    from > 0 || to < Infinity ? ` from ${from / 1e6} s to ${to === Infinity ? 'the end' : `${to / 1e6} s`}` : '';
  console.log(`Profile ${file}${window}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`);
  table('where', places);
  table('on the stack (with what it called)', onStack);
  table('function', functions);
}

main();
