// What graphql-js alone spends executing issue 12's screen, with no HTTP, no database, no Pothos and
// no Prisma: a schema of the screen's shape built from SDL, default resolvers reading plain objects
// already in memory (20 bugs, each with its project, reporter, assignee and 5 comments with their
// authors), and the screen document parsed once. It is the least any server built on graphql-js's
// executor can spend on the screen, whatever its resolvers and data layer do.
//
// Alternated in one process, after a warm-up of each:
//
// - JSON.stringify of the finished result: what the hand-written server (handwritten-server.ts)
//   does once PostgreSQL has built the JSON;
// - graphql-js's `execute` over the objects;
// - `execute`, then JSON.stringify of its result.
//
//   node --import tsx bench/executor-floor.ts [--runs 5] [--iterations 5000]
import os from 'node:os';
import { buildSchema, execute, parse } from 'graphql';
import { SCREEN } from './queries-documents';

const SDL = /* GraphQL */ `
  type Query {
    bugs(first: Int): BugConnection!
  }
  type BugConnection {
    edges: [BugEdge!]!
  }
  type BugEdge {
    node: Bug!
  }
  enum BugStatus {
    OPEN
    IN_PROGRESS
    RESOLVED
    CLOSED
  }
  type Bug {
    key: String!
    title: String!
    status: BugStatus!
    project: Project!
    reporter: User!
    assignee: User
    comments(first: Int): CommentConnection!
  }
  type Project {
    name: String!
  }
  type User {
    name: String!
  }
  type CommentConnection {
    edges: [CommentEdge!]!
  }
  type CommentEdge {
    node: Comment!
  }
  type Comment {
    body: String!
    author: User!
  }
`;

function value(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
}

/** Rows shaped like the queries bench's seed: about its 10.5 KB of JSON, escapes included, some unassigned. */
function screenRows() {
  const people = ['Grace', 'Ada', 'Linus', 'Barbara', 'Edsger'].map((name) => ({ name }));
  const projects = ['Web', 'Mobile', 'API'].map((name) => ({ name }));
  const statuses = ['OPEN', 'IN_PROGRESS', 'RESOLVED', 'CLOSED'];
  return Array.from({ length: 20 }, (_, i) => ({
    key: `${['WEB', 'MOB', 'API'][i % 3]}-${67 - Math.floor(i / 3)}`,
    title: `Bug ${i}: the "save" button \\ misbehaves twice`,
    status: statuses[i % 4],
    project: projects[i % 3],
    reporter: people[0],
    assignee: i % 3 === 2 ? null : people[1 + (i % 4)],
    comments: {
      edges: Array.from({ length: 5 }, (_, j) => ({
        node: {
          body: `Comment ${j} on bug ${i}: über-tabbed\tand new-lined\n.`,
          author: people[j % 5],
        },
      })),
    },
  }));
}

function main(): void {
  const runs = value('--runs', 5);
  const iterations = value('--iterations', 5000);
  const schema = buildSchema(SDL);
  const document = parse(SCREEN);
  const rows = screenRows();
  const rootValue = { bugs: () => ({ edges: rows.map((node) => ({ node })) }) };
  const result = execute({ schema, document, rootValue });
  if ('then' in result || result.errors !== undefined)
    throw new Error(`The screen did not execute: ${JSON.stringify(result)}`);
  const bytes = Buffer.byteLength(JSON.stringify(result));

  const ways: [string, () => unknown][] = [
    ['JSON.stringify of the result (the hand-written server)', () => JSON.stringify(result)],
    ['graphql-js execute', () => execute({ schema, document, rootValue })],
    ['graphql-js execute + JSON.stringify', () => JSON.stringify(execute({ schema, document, rootValue }))],
  ];
  for (const [, way] of ways) for (let i = 0; i < iterations; i++) way();

  const times = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  const load = os.loadavg()[0]!;
  for (let run = 0; run < runs; run++) {
    for (const [name, way] of ways) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) way();
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
    }
  }

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const base = median(times.get(ways[0]![0])!);
  console.log(
    `node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, load ${load.toFixed(2)} → ${os.loadavg()[0]!.toFixed(2)}; ` +
      `the screen's result: ${bytes} bytes of JSON; ${runs} runs of ${iterations} each, alternated\n`,
  );
  console.log('| what | µs per screen (median) | every run | × JSON.stringify |');
  console.log('|---|---|---|---|');
  for (const [name, values] of times) {
    const med = median(values);
    console.log(
      `| ${name} | ${med.toFixed(1)} | ${values.map((v) => v.toFixed(0)).join(', ')} | ${(med / base).toFixed(1)} × |`,
    );
  }
}

main();
