import type { Prisma } from '../../generated/prisma/client';
import { BugPriority, BugStatus } from '../../generated/prisma/enums';
import type { ArgBuilder } from '@pothos/core';
import { builder, type BuilderTypes } from '../../graphql/builder';
import { columnDescription } from '../../graphql/columns';
import { PERSONAL, SHARED } from '../../graphql/viewer';
import { badUserInput, conflict, exactlyOne, notFound } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { checkFields, LIMITS, optionalText, pageSize, requiredText } from '../../graphql/validation';
import { transact } from '../../events/outbox';
import { JOINED } from '../../infra/db';
import { viewerOf, type Context } from '../../server/context';
import { findReadableProject, isProjectMember } from '../project/access';
import { findReadableBug, readableBugs } from './access';
import { canMove, STATUS_MOVES } from './status';
import { bugPayload } from './payload';
import { recordBugChange } from './changes';
import { fieldChanges } from './history';

export const BugStatusEnum = builder.enumType(BugStatus, {
  name: 'BugStatus',
  description: `Where a bug is in its life. Allowed moves: ${Object.entries(STATUS_MOVES)
    .map(([from, to]) => `${from} -> ${to.join(', ')}`)
    .join('; ')}.`,
});

export const BugPriorityEnum = builder.enumType(BugPriority, {
  name: 'BugPriority',
  description: 'How urgent a bug is, from LOW to CRITICAL; ordering by priority follows this order.',
});

export const BugNode = builder.prismaNode('Bug', {
  id: { field: 'id' },
  extensions: SHARED,
  // The small columns nearly every query shows, read from the row by their fields (see
  // columnDescription); the description and the dates only when asked.
  select: { id: true, number: true, title: true, status: true, priority: true },
  findUnique: (id, ctx) => ({ id, AND: [readableBugs(viewerOf(ctx))] }),
  fields: (t) => ({
    key: t.string({
      description: "The project's key and the bug's number, e.g. WEB-42.",
      select: { project: { select: { key: true } } },
      resolve: (bug) => `${bug.project.key}-${bug.number}`,
    }),
    number: t.int({ description: columnDescription('Bug', 'number'), resolve: (bug) => bug.number }),
    title: t.string({ description: columnDescription('Bug', 'title'), resolve: (bug) => bug.title }),
    description: t.exposeString('description'),
    status: t.field({
      type: BugStatusEnum,
      description: columnDescription('Bug', 'status'),
      resolve: (bug) => bug.status,
    }),
    priority: t.field({
      type: BugPriorityEnum,
      description: columnDescription('Bug', 'priority'),
      resolve: (bug) => bug.priority,
    }),
    project: t.relation('project'),
    reporter: t.relation('reporter'),
    assignee: t.relation('assignee', { nullable: true }),
    comments: t.relatedConnection('comments', {
      cursor: 'id',
      ...pageSize,
      totalCount: true,
      description: 'The discussion, oldest first.',
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    closedAt: t.expose('closedAt', { type: 'DateTime', nullable: true }),
  }),
});

// --- Listing ------------------------------------------------------------------------------------

const BugFilter = builder.inputType('BugFilter', {
  description: 'Narrows a bug list; every field given must match.',
  fields: (t) => ({
    projectId: t.id(),
    status: t.field({ type: [BugStatusEnum], description: 'Any of these statuses.' }),
    priority: t.field({ type: [BugPriorityEnum], description: 'Any of these priorities.' }),
    assigneeId: t.id(),
    reporterId: t.id(),
    search: t.string({
      description: 'Text found in the title or description, ignoring case; a key such as WEB-42 also finds that bug.',
    }),
    labelIds: t.idList({ description: 'Bugs carrying any of these labels.' }),
  }),
});

const BugOrderField = builder.enumType('BugOrderField', {
  values: {
    CREATED_AT: { value: 'createdAt' },
    UPDATED_AT: { value: 'updatedAt' },
    PRIORITY: { value: 'priority' },
  } as const,
});

const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

const BugOrder = builder.inputType('BugOrder', {
  description: 'How to sort bugs; equal values fall back to the newest first.',
  fields: (t) => ({
    field: t.field({ type: BugOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'desc', required: true }),
  }),
});

type BugFilterInput = typeof BugFilter.$inferInput;
type BugOrderInput = typeof BugOrder.$inferInput;

function bugWhere(filter: BugFilterInput | null | undefined): Prisma.BugWhereInput {
  if (filter == null) return {};
  const text = filter.search?.trim();
  // Prisma's `contains` is an ILIKE whose pattern keeps the text's own `%` and `_` as wildcards;
  // PostgreSQL's default LIKE escape character, backslash, makes them (and itself) literal.
  const search = text?.replace(/[\\%_]/g, '\\$&');
  const key = text === undefined ? null : parseBugKey(text);
  return {
    projectId: filter.projectId == null ? undefined : parseId(filter.projectId, 'Project', 'filter.projectId'),
    status: filter.status == null ? undefined : { in: filter.status },
    priority: filter.priority == null ? undefined : { in: filter.priority },
    assigneeId: filter.assigneeId == null ? undefined : parseId(filter.assigneeId, 'User', 'filter.assigneeId'),
    reporterId: filter.reporterId == null ? undefined : parseId(filter.reporterId, 'User', 'filter.reporterId'),
    labels:
      filter.labelIds == null
        ? undefined
        : {
            some: {
              labelId: { in: filter.labelIds.map((id, index) => parseId(id, 'Label', `filter.labelIds.${index}`)) },
            },
          },
    OR: search
      ? [
          { title: { contains: search, mode: 'insensitive' } },
          { description: { contains: search, mode: 'insensitive' } },
          ...(key === null ? [] : [{ number: key.number, project: { key: key.projectKey } }]),
        ]
      : undefined,
  };
}

/** The bugs a root list shows: the viewer's readable ones that match the filter. */
function listedBugs(filter: BugFilterInput | null | undefined, ctx: Context): Prisma.BugWhereInput {
  return { AND: [readableBugs(viewerOf(ctx)), bugWhere(filter)] };
}

function bugOrderBy(order: BugOrderInput | null | undefined): Prisma.BugOrderByWithRelationInput[] {
  const { field, direction } = order ?? { field: 'createdAt', direction: 'desc' };
  // The unique tail makes the order total, which cursor pagination needs.
  const tail: Prisma.BugOrderByWithRelationInput[] = [{ createdAt: 'desc' }, { id: 'desc' }];
  return field === 'createdAt' ? [{ createdAt: direction }, { id: direction }] : [{ [field]: direction }, ...tail];
}

/** A bug key's parts, e.g. WEB-42: project key WEB, number 42; null when `text` is not one. */
export function parseBugKey(text: string): { projectKey: string; number: number } | null {
  const match = /^([A-Za-z]{2,10})-(\d{1,9})$/.exec(text.trim());
  return match === null ? null : { projectKey: match[1]!.toUpperCase(), number: Number(match[2]) };
}

function bugKeyWhere(key: string): Prisma.BugWhereInput {
  const parts = parseBugKey(key);
  if (parts === null) throw badUserInput('key', `"${key}" is not a bug key like WEB-42.`);
  return { number: parts.number, project: { key: parts.projectKey } };
}

const listArgs = (t: ArgBuilder<BuilderTypes>) => ({
  filter: t({ type: BugFilter }),
  orderBy: t({ type: BugOrder, description: 'Newest first when left out.' }),
});

builder.queryFields((t) => ({
  bug: t.prismaField({
    type: 'Bug',
    description:
      'A bug in a project you belong to (any, for an admin), by `id` or by `key` (WEB-42): exactly one of the two, ' +
      'else BAD_USER_INPUT. NOT_FOUND when it does not exist or is not yours to see.',
    args: {
      id: t.arg.id(),
      key: t.arg.string({ description: "The project's key and the bug's number, e.g. WEB-42 (any case)." }),
    },
    resolve: async (query, _root, args, ctx) => {
      const viewer = viewerOf(ctx);
      const field = exactlyOne(args, 'id', 'key');
      const where: Prisma.BugWhereInput =
        field === 'id' ? { id: parseId(args.id!, 'Bug', 'id') } : bugKeyWhere(args.key!);
      const bug = await ctx.prisma.bug.findFirst({ ...query, ...JOINED, where: { ...where, ...readableBugs(viewer) } });
      if (bug === null) throw notFound('Bug', field);
      return bug;
    },
  }),
  bugs: t.prismaConnection(
    {
      type: 'Bug',
      cursor: 'id',
      ...pageSize,
      description: 'Bugs in the projects you belong to (all, for an admin).',
      args: listArgs(t.arg),
      resolve: (query, _root, args, ctx) =>
        ctx.prisma.bug.findMany({
          ...query,
          ...JOINED,
          where: listedBugs(args.filter, ctx),
          orderBy: bugOrderBy(args.orderBy),
        }),
      totalCount: (_root, args, ctx) => ctx.prisma.bug.count({ where: listedBugs(args.filter, ctx) }),
    },
    { extensions: PERSONAL },
  ),
}));

builder.prismaObjectField('Project', 'bugs', (t) =>
  t.relatedConnection('bugs', {
    cursor: 'id',
    ...pageSize,
    totalCount: true,
    description: "The project's bugs, newest first unless ordered otherwise.",
    args: listArgs(t.arg),
    query: (args) => ({ where: bugWhere(args.filter), orderBy: bugOrderBy(args.orderBy) }),
  }),
);

// --- Changes ------------------------------------------------------------------------------------

type Db = Prisma.TransactionClient;

async function assertAssignable(db: Db, projectId: string, assigneeId: string): Promise<void> {
  if (!(await isProjectMember(db, projectId, assigneeId))) {
    throw badUserInput('assigneeId', "The assignee must be a member of the bug's project.");
  }
}

builder.relayMutationField(
  'createBug',
  {
    inputFields: (t) => ({
      projectId: t.id({ required: true }),
      title: t.string({ required: true, description: `1 to ${LIMITS.title} characters.` }),
      description: t.string(),
      priority: t.field({ type: BugPriorityEnum, defaultValue: 'MEDIUM' }),
      assigneeId: t.id({ description: 'A member of the project; left out, nobody.' }),
    }),
  },
  {
    description: 'Files a bug in a project you belong to. It gets the next number in that project.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { projectId, title, description, assigneeId } = checkFields({
        projectId: () => parseId(input.projectId, 'Project', 'projectId'),
        title: () => requiredText(input.title, 'title', LIMITS.title),
        description: () => optionalText(input.description ?? '', 'description', LIMITS.description),
        assigneeId: () => (input.assigneeId == null ? null : parseId(input.assigneeId, 'User', 'assigneeId')),
      });
      const bug = await transact(ctx, async (tx, emit) => {
        await findReadableProject(tx, viewer, projectId, 'projectId');
        if (assigneeId !== null) await assertAssignable(tx, projectId, assigneeId);
        // Taking the next number locks the project row until commit, so numbers never repeat.
        const [counter] = await tx.$queryRaw<[{ bugCount: number }]>`
          UPDATE "Project" SET "bugCount" = "bugCount" + 1 WHERE "id" = ${projectId}::uuid RETURNING "bugCount"`;
        const bug = await tx.bug.create({
          data: {
            projectId,
            number: counter.bugCount,
            title,
            description,
            priority: input.priority ?? 'MEDIUM',
            reporterId: viewer.id,
            assigneeId,
          },
          select: { id: true },
        });
        const priority = input.priority ?? 'MEDIUM';
        await recordBugChange(tx, emit, {
          type: 'BUG_CREATED',
          actorId: viewer.id,
          projectId,
          bugId: bug.id,
          userId: assigneeId,
          activity: 'CREATED',
          changes: fieldChanges(
            { title: null, description: null, status: null, priority: null, assignee: null },
            {
              title,
              description: description || undefined,
              status: 'OPEN',
              priority,
              assignee: await nameOf(tx, assigneeId),
            },
          ),
          watchers: [viewer.id, assigneeId],
          notification: { kind: 'BUG_ASSIGNED', toWatchers: false, alsoNotify: assigneeId },
        });
        return bug;
      });
      return { bugId: bug.id };
    },
  },
  bugPayload,
);

builder.relayMutationField(
  'updateBug',
  {
    inputFields: (t) => ({
      bugId: t.id({ required: true }),
      title: t.string({ description: 'Left out or null: unchanged.' }),
      description: t.string({ description: 'Left out or null: unchanged.' }),
      priority: t.field({ type: BugPriorityEnum, description: 'Left out or null: unchanged.' }),
    }),
  },
  {
    description: "Edits a bug's title, description or priority.",
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { bugId, ...data } = checkFields({
        bugId: () => parseId(input.bugId, 'Bug', 'bugId'),
        title: () => (input.title == null ? undefined : requiredText(input.title, 'title', LIMITS.title)),
        description: () =>
          input.description == null ? undefined : optionalText(input.description, 'description', LIMITS.description),
        priority: () => input.priority ?? undefined,
      });
      if (Object.values(data).every((value) => value === undefined)) {
        throw badUserInput('input', 'Give at least one of title, description or priority.');
      }
      await transact(ctx, async (tx, emit) => {
        const { projectId } = await findReadableBug(tx, viewer, bugId, 'bugId');
        const before = await tx.bug.findUniqueOrThrow({
          where: { id: bugId },
          select: { title: true, description: true, priority: true },
        });
        await tx.bug.update({ where: { id: bugId }, data, select: { id: true } });
        const changes = fieldChanges(before, data);
        const edited = changes.some((change) => change.field === 'title' || change.field === 'description');
        await recordBugChange(tx, emit, {
          type: 'BUG_UPDATED',
          actorId: viewer.id,
          projectId,
          bugId,
          activity: changes.length > 0 ? 'UPDATED' : undefined,
          changes,
          notification: edited ? { kind: 'BUG_EDITED', toWatchers: true } : undefined,
        });
      });
      return { bugId };
    },
  },
  bugPayload,
);

builder.relayMutationField(
  'updateBugStatus',
  {
    inputFields: (t) => ({
      bugId: t.id({ required: true }),
      status: t.field({ type: BugStatusEnum, required: true }),
    }),
  },
  {
    description:
      'Moves a bug to another status (see BugStatus for the allowed moves). CLOSED sets closedAt; reopening clears it.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const bugId = parseId(input.bugId, 'Bug', 'bugId');
      const to = input.status;
      await transact(ctx, async (tx, emit) => {
        const { status: from, projectId } = await findReadableBug(tx, viewer, bugId, 'bugId');
        if (!canMove(from, to)) throw badUserInput('status', `A bug cannot move from ${from} to ${to}.`);
        // Conditional on the status we checked, so two racing moves cannot both pass the check.
        const { count } = await tx.bug.updateMany({
          where: { id: bugId, status: from },
          data: { status: to, closedAt: to === 'CLOSED' ? new Date() : null },
        });
        if (count === 0) throw conflict('status', 'The bug changed meanwhile; reload it and try again.');
        await recordBugChange(tx, emit, {
          type: 'BUG_STATUS_CHANGED',
          actorId: viewer.id,
          projectId,
          bugId,
          activity: 'STATUS_CHANGED',
          changes: [{ field: 'status', from, to }],
          notification: { kind: 'STATUS_CHANGED', toWatchers: true },
          data: { from, to },
        });
      });
      return { bugId };
    },
  },
  bugPayload,
);

builder.relayMutationField(
  'assignBug',
  {
    inputFields: (t) => ({
      bugId: t.id({ required: true }),
      assigneeId: t.id({ description: "A member of the bug's project; null unassigns." }),
    }),
  },
  {
    description: 'Assigns a bug to a member of its project, or unassigns it with a null assigneeId.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { bugId, assigneeId } = checkFields({
        bugId: () => parseId(input.bugId, 'Bug', 'bugId'),
        assigneeId: () => (input.assigneeId == null ? null : parseId(input.assigneeId, 'User', 'assigneeId')),
      });
      await transact(ctx, async (tx, emit) => {
        const bug = await findReadableBug(tx, viewer, bugId, 'bugId');
        if (assigneeId !== null) await assertAssignable(tx, bug.projectId, assigneeId);
        if (bug.assigneeId === assigneeId) return;
        await tx.bug.update({ where: { id: bugId }, data: { assigneeId }, select: { id: true } });
        await recordAssignment(tx, emit, viewer.id, { ...bug, bugId }, assigneeId);
      });
      return { bugId };
    },
  },
  bugPayload,
);

/** A person's name, as history shows them; null for nobody. */
async function nameOf(db: Db, userId: string | null): Promise<string | null> {
  return (await namesOf(db, [userId]))[0] ?? null;
}

/** The names of these people, in one query; null for nobody. */
async function namesOf(db: Db, userIds: (string | null)[]): Promise<(string | null)[]> {
  const ids = userIds.filter((id): id is string => id !== null);
  const users =
    ids.length === 0 ? [] : await db.user.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } });
  return userIds.map((id) => users.find((user) => user.id === id)?.name ?? null);
}

/**
 * A bug's assignee changed from `bug.assigneeId` to `assigneeId` (null: unassigned): the new
 * assignee starts watching and is told, and so is every watcher but the one who did it.
 */
export async function recordAssignment(
  tx: Db,
  emit: Parameters<typeof recordBugChange>[1],
  actorId: string,
  bug: { bugId: string; projectId: string; assigneeId: string | null },
  assigneeId: string | null,
): Promise<void> {
  const [from, to] = await namesOf(tx, [bug.assigneeId, assigneeId]);
  await recordBugChange(tx, emit, {
    type: 'BUG_ASSIGNED',
    actorId,
    projectId: bug.projectId,
    bugId: bug.bugId,
    userId: assigneeId,
    activity: 'ASSIGNED',
    changes: [{ field: 'assignee', from: from ?? null, to: to ?? null }],
    watchers: [assigneeId],
    notification: { kind: 'BUG_ASSIGNED', toWatchers: true, alsoNotify: assigneeId },
  });
}
