// Where a V8 CPU profile's time went: self time grouped by package (or by our own source file) and
// the functions that took the most, as markdown. For profiles the server writes when started by a
// benchmark with SERVER_CPU_PROF=<dir>.
//
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
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
  const [file, top = '15'] = process.argv.slice(2);
  if (file === undefined) throw new Error('Usage: bench/profile-summary.ts <file.cpuprofile> [top]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
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
    console.log(`\n| ${title} | self ms | share of busy time |\n|---|---|---|`);
    for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
      console.log(`| ${name} | ${(time / 1000).toFixed(0)} | ${((100 * time) / busy).toFixed(1)}% |`);
    }
  };
  console.log(`Profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`);
  table('where', places);
  table('function', functions);
}

main();
