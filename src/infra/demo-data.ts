// Demo data for trying BugZapp out (`npm run seed`, or `npm start -- --seed`). Never touches a
// database that already has users.
import type { BugPriority, BugStatus } from '../generated/prisma/enums';
import { hashPassword } from '../server/auth';
import { markAsOurs } from '../events/outbox';
import type { Database } from './db';

/** The demo logins, also listed in the README. */
export const DEMO_USERS = [
  {
    email: 'admin@bugzapp.dev',
    name: 'Ada Admin',
    role: 'ADMIN',
    password: 'admin-password',
  },
  {
    email: 'grace@bugzapp.dev',
    name: 'Grace Hopper',
    role: 'MEMBER',
    password: 'grace-password',
  },
  {
    email: 'linus@bugzapp.dev',
    name: 'Linus Torvalds',
    role: 'MEMBER',
    password: 'linus-password',
  },
  {
    email: 'margaret@bugzapp.dev',
    name: 'Margaret Hamilton',
    role: 'MEMBER',
    password: 'margaret-password',
  },
] as const;

type Email = (typeof DEMO_USERS)[number]['email'];

const PROJECTS: {
  key: string;
  name: string;
  description: string;
  owner: Email;
  members: Email[];
}[] = [
  {
    key: 'WEB',
    name: 'Web app',
    description: 'The customer-facing web application.',
    owner: 'grace@bugzapp.dev',
    members: ['linus@bugzapp.dev', 'margaret@bugzapp.dev'],
  },
  {
    key: 'API',
    name: 'Public API',
    description: 'The REST and GraphQL endpoints partners use.',
    owner: 'linus@bugzapp.dev',
    members: ['grace@bugzapp.dev'],
  },
];

const BUGS: {
  project: string;
  title: string;
  description: string;
  status: BugStatus;
  priority: BugPriority;
  reporter: Email;
  assignee?: Email;
  comments: [Email, string][];
}[] = [
  {
    project: 'WEB',
    title: 'Login button does nothing on Safari',
    description: 'Clicking "Log in" on Safari 17 has no effect; no request is sent.',
    status: 'OPEN',
    priority: 'CRITICAL',
    reporter: 'margaret@bugzapp.dev',
    assignee: 'grace@bugzapp.dev',
    comments: [['grace@bugzapp.dev', 'Reproduced on Safari 17.2; looking at the click handler.']],
  },
  {
    project: 'WEB',
    title: 'Dashboard takes 8 seconds to load',
    description: 'The activity widget fetches every event since the account was created.',
    status: 'IN_PROGRESS',
    priority: 'HIGH',
    reporter: 'grace@bugzapp.dev',
    assignee: 'linus@bugzapp.dev',
    comments: [
      ['linus@bugzapp.dev', 'Paginating the widget query.'],
      ['grace@bugzapp.dev', 'Thanks, users are noticing.'],
    ],
  },
  {
    project: 'WEB',
    title: 'Typo on the pricing page',
    description: '"Anual" should be "Annual".',
    status: 'RESOLVED',
    priority: 'LOW',
    reporter: 'linus@bugzapp.dev',
    assignee: 'margaret@bugzapp.dev',
    comments: [],
  },
  {
    project: 'WEB',
    title: 'Dark mode resets after logout',
    description: '',
    status: 'CLOSED',
    priority: 'MEDIUM',
    reporter: 'margaret@bugzapp.dev',
    comments: [['margaret@bugzapp.dev', 'Fixed by storing the preference server-side.']],
  },
  {
    project: 'API',
    title: 'Export times out for large accounts',
    description: 'CSV export of more than 50k rows hits the 30 s gateway timeout.',
    status: 'OPEN',
    priority: 'HIGH',
    reporter: 'grace@bugzapp.dev',
    comments: [],
  },
  {
    project: 'API',
    title: 'Wrong status code on validation errors',
    description: 'Returns 500 instead of 422 when a date is malformed.',
    status: 'IN_PROGRESS',
    priority: 'MEDIUM',
    reporter: 'linus@bugzapp.dev',
    assignee: 'grace@bugzapp.dev',
    comments: [['grace@bugzapp.dev', 'The date parser throws a plain Error.']],
  },
];

/** Loads the demo data into a migrated database; returns false, changing nothing, if it has users already. */
export async function seedDemoData(db: Database): Promise<boolean> {
  if ((await db.prisma.user.count()) > 0) return false;
  // Hashing passwords is slow on purpose: a busy machine must not run past Prisma's 5 s default.
  await db.prisma.$transaction(
    async (tx) => {
      // The demo data is history's starting point, not a change anyone should hear of.
      await markAsOurs(tx);
      const ids = new Map<string, string>();
      for (const user of DEMO_USERS) {
        const created = await tx.user.create({
          data: {
            email: user.email,
            name: user.name,
            role: user.role,
            passwordHash: await hashPassword(user.password),
          },
        });
        ids.set(user.email, created.id);
      }
      const id = (email: Email) => ids.get(email)!;
      for (const project of PROJECTS) {
        const bugs = BUGS.filter((bug) => bug.project === project.key);
        await tx.project.create({
          data: {
            key: project.key,
            name: project.name,
            description: project.description,
            ownerId: id(project.owner),
            bugCount: bugs.length,
            memberships: {
              create: [project.owner, ...project.members].map((email) => ({
                userId: id(email),
              })),
            },
            bugs: {
              create: bugs.map((bug, index) => ({
                number: index + 1,
                title: bug.title,
                description: bug.description,
                status: bug.status,
                priority: bug.priority,
                reporterId: id(bug.reporter),
                assigneeId: bug.assignee === undefined ? null : id(bug.assignee),
                closedAt: bug.status === 'CLOSED' ? new Date() : null,
                comments: {
                  create: bug.comments.map(([author, body]) => ({
                    authorId: id(author),
                    body,
                  })),
                },
              })),
            },
          },
        });
      }
    },
    { timeout: 60_000 },
  );
  return true;
}

/**
 * What the demo data holds and its logins, as lines to print. Passwords only where asked: the
 * seed script prints to a terminal, while the server writes logs, which never carry a password
 * (the README lists the demo ones).
 */
export function describeDemoData({ passwords }: { passwords: boolean }): string[] {
  return [
    `Seeded ${DEMO_USERS.length} users, ${PROJECTS.length} projects and ${BUGS.length} bugs. Logins${passwords ? '' : ' (passwords in the README)'}:`,
    ...DEMO_USERS.map((user) => `  ${user.role.padEnd(6)} ${user.email}${passwords ? ` / ${user.password}` : ''}`),
  ];
}
