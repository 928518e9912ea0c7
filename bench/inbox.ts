// Issue 10's figures: how long one page of a 1,000-entry bug history and the first page of a
// 10,000-notification inbox take, asked over HTTP of the real app with the response cache off (so
// every request reaches the database), with how many SQL statements each runs.
//
//   npm run bench:inbox                                  # embedded PGlite, then PostgreSQL
//   npm run bench:inbox -- --db pglite --runs 100        # --db pglite|postgresql|both
//
// The app runs in this process (createApp, as the tests start it), on a fresh PGlite folder or a
// scratch database next to DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
// dropped at the end. The rows are written with SQL, as test/history.test.ts and
// test/inbox.test.ts write them: a bug with 1,000 history entries, and a reader with 10,000
// notifications (one in a hundred unread) among 30,000. Each request is sent `--runs` times, one
// after another, after 20 unmeasured ones.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { createScratchDatabase } from '../test/helpers/database';
import {
  AddProjectMember,
  CreateBug,
  CreateProject,
  load1,
  ok,
  percentile,
  projectKey,
  signUp,
} from './server-process';

const DEFAULT_POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const WARM_UP = 20;

const HISTORY_PAGE = /* GraphQL */ `
  query BenchHistoryPage($id: ID!, $after: String) {
    bug(id: $id) {
      activity(first: 100, after: $after) {
        edges {
          cursor
          node {
            kind
            occurredAt
            actor {
              name
            }
            changes {
              field
              from
              to
            }
          }
        }
      }
    }
  }
`;

const INBOX_PAGE = /* GraphQL */ `
  query BenchInboxPage {
    notifications(first: 20) {
      edges {
        node {
          id
          kind
          message
          readAt
          occurredAt
          bug {
            key
          }
          actor {
            name
          }
        }
      }
    }
  }
`;

const UNREAD_COUNT = /* GraphQL */ `
  query BenchUnreadCount {
    unreadNotificationCount
  }
`;

type HistoryPage = { bug: { activity: { edges: { cursor: string }[] } } };

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

/** The app over a fresh database of the kind asked for, and how to remove it all. */
async function start(kind: 'pglite' | 'postgresql'): Promise<{ app: App; url: string; dispose: () => Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bugzapp-bench-inbox-'));
  const scratch =
    kind === 'postgresql' ? await createScratchDatabase(process.env.DATABASE_URL || DEFAULT_POSTGRES_URL) : undefined;
  const config = loadConfig({
    GRAPHIQL: 'false',
    LOG_LEVEL: 'silent',
    RESPONSE_CACHE: 'false',
    // No event poll: its reads would be counted among the requests' statements.
    EVENT_POLL_MS: '600000',
    RATE_LIMIT_SIGNIN_PER_IP: '0',
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '0',
    RATE_LIMIT_OPERATIONS_PER_USER: '0',
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: scratch?.url,
  });
  const app = await createApp(config);
  const { url } = await app.start();
  return {
    app,
    url,
    dispose: async () => {
      await app.stop();
      await scratch?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A bug with 1,000 history entries and a reader with 10,000 notifications, written with SQL. */
async function seed(app: App, url: string) {
  const run = Date.now().toString(36);
  const ada = await signUp(url, `ada-${run}@bench.dev`, 'Ada');
  const reader = await signUp(url, `reader-${run}@bench.dev`, 'Reader');
  const others = [
    await signUp(url, `grace-${run}@bench.dev`, 'Grace'),
    await signUp(url, `linus-${run}@bench.dev`, 'Linus'),
  ];
  const { createProject } = await ok<{ createProject: { project: { id: string } } }>(
    url,
    CreateProject,
    { input: { key: projectKey(), name: 'Bench' } },
    ada.token,
  );
  const projectId = createProject.project.id;
  for (const user of [reader, ...others]) {
    await ok(url, AddProjectMember, { input: { projectId, userId: user.id } }, ada.token);
  }
  const { createBug } = await ok<{ createBug: { bug: { id: string } } }>(
    url,
    CreateBug,
    { input: { projectId, title: 'Title 0' } },
    ada.token,
  );
  const bugId = createBug.bug.id;
  await app.db.withSession(async (session) => {
    await session.query(
      `INSERT INTO "BugActivity" ("id", "bugId", "kind", "actorId", "changes", "createdAt")
       SELECT gen_random_uuid(), $1::uuid, 'UPDATED'::"ActivityKind", (ARRAY[$2::uuid, $3::uuid])[1 + i % 2],
              jsonb_build_array(jsonb_build_object('field', 'title', 'from', 'Title ' || (i - 1), 'to', 'Title ' || i)),
              now() + i * interval '1 millisecond'
       FROM generate_series(1, 998) AS i`,
      [uuidOf(bugId), uuidOf(ada.id), uuidOf(others[0]!.id)],
    );
    for (const [recipient, positions] of [
      [reader, 1_000_000],
      [others[0]!, 2_000_000],
      [others[1]!, 3_000_000],
    ] as const) {
      await session.query(
        `INSERT INTO "Notification" ("id", "recipientId", "kind", "actorId", "projectId", "bugId", "position", "data", "readAt", "createdAt")
         SELECT gen_random_uuid(), $1::uuid, 'COMMENT_ADDED'::"NotificationKind", $2::uuid, $3::uuid, $4::uuid,
                $5::int + i, '{}', CASE WHEN i % 100 = 0 THEN NULL ELSE now() END, now() - (10000 - i) * interval '1 second'
         FROM generate_series(1, 10000) AS i`,
        [uuidOf(recipient.id), uuidOf(ada.id), uuidOf(projectId), uuidOf(bugId), positions],
      );
    }
    await session.query('VACUUM ANALYZE "BugActivity"');
    await session.query('VACUUM ANALYZE "Notification"');
  });
  return { bugId, reader };
}

/** `runs` sequential requests after the warm-up: milliseconds at p50, p95 and max, and SQL statements per request. */
async function measure(app: App, runs: number, request: () => Promise<unknown>) {
  for (let i = 0; i < WARM_UP; i++) await request();
  let statements = 0;
  const stop = app.db.onQuery(() => statements++);
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await request();
      times.push(performance.now() - started);
    }
  } finally {
    stop();
  }
  const ms = (value: number) => value.toFixed(1);
  return `${ms(percentile(times, 50))} | ${ms(percentile(times, 95))} | ${ms(Math.max(...times))} | ${statements / runs}`;
}

async function main(): Promise<void> {
  const runs = Number(option('runs', '200'));
  const db = option('db', 'both');
  const kinds = db === 'both' ? (['pglite', 'postgresql'] as const) : ([db] as ('pglite' | 'postgresql')[]);
  console.log(`${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} cores, ${runs} runs each`);
  console.log('| database | request | p50 ms | p95 ms | max ms | SQL statements | load 1 min start → end |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const kind of kinds) {
    const { app, url, dispose } = await start(kind);
    try {
      const { bugId, reader } = await seed(app, url);
      const first = await ok<HistoryPage>(url, HISTORY_PAGE, { id: bugId }, reader.token);
      const middle = (
        await ok<HistoryPage>(
          url,
          HISTORY_PAGE,
          { id: bugId, after: first.bug.activity.edges[99]!.cursor },
          reader.token,
        )
      ).bug.activity.edges;
      const after = middle.at(-1)!.cursor; // the 200th entry: the page holds entries 201 to 300
      const name = kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL';
      const rows: [string, () => Promise<unknown>][] = [
        ['history, first 100 entries', () => ok(url, HISTORY_PAGE, { id: bugId }, reader.token)],
        ['history, 100 entries after the 200th', () => ok(url, HISTORY_PAGE, { id: bugId, after }, reader.token)],
        ['inbox, first 20 of 10,000', () => ok(url, INBOX_PAGE, {}, reader.token)],
        ['unreadNotificationCount (100 of 10,000)', () => ok(url, UNREAD_COUNT, {}, reader.token)],
      ];
      for (const [label, request] of rows) {
        const load = load1();
        const figures = await measure(app, runs, request);
        console.log(`| ${name} | ${label} | ${figures} | ${load} → ${load1()} |`);
      }
    } finally {
      await dispose();
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
