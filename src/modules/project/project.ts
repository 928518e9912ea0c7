import { builder } from '../../graphql/builder';
import { columnDescription } from '../../graphql/columns';
import { PERSONAL, SHARED } from '../../graphql/viewer';
import { badUserInput, exactlyOne, notFound } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { checkFields, LIMITS, optionalText, pageSize, requiredText } from '../../graphql/validation';
import type { PayloadFieldBuilder, BuilderTypes } from '../../graphql/builder';
import { transact } from '../../events/outbox';
import { JOINED } from '../../infra/db';
import { viewerOf } from '../../server/context';
import { UserNode } from '../user/user';
import { recordAssignment } from '../bug/bug';
import { stopWatchingProject } from '../bug/watching';
import { assertCanManageProject, findReadableProject, isProjectMember, readableProjects } from './access';

export const ProjectNode = builder.prismaNode('Project', {
  id: { field: 'id' },
  extensions: SHARED,
  // The key and the name, read from the row by their fields (see columnDescription); the
  // description and the dates only when asked.
  select: { id: true, key: true, name: true },
  findUnique: (id, ctx) => ({ id, AND: [readableProjects(viewerOf(ctx))] }),
  fields: (t) => ({
    key: t.string({ description: columnDescription('Project', 'key'), resolve: (project) => project.key }),
    name: t.string({ description: columnDescription('Project', 'name'), resolve: (project) => project.name }),
    description: t.exposeString('description'),
    owner: t.relation('owner'),
    members: t.field({
      type: [UserNode],
      description: 'Everyone who works in the project, owner included, in the order they joined.',
      select: (_args, _ctx, nestedSelection) => ({
        memberships: { select: { user: nestedSelection(true) }, orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }] },
      }),
      resolve: (project) => project.memberships.map((membership) => membership.user),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  project: t.prismaField({
    type: 'Project',
    description:
      'A project you belong to (any project, for an admin), by `id` or by `key` (WEB): exactly one of the two, ' +
      'else BAD_USER_INPUT. NOT_FOUND when it does not exist or is not yours to see.',
    args: {
      id: t.arg.id(),
      key: t.arg.string({ description: "The project's key, e.g. WEB (any case)." }),
    },
    resolve: async (query, _root, args, ctx) => {
      const viewer = viewerOf(ctx);
      const field = exactlyOne(args, 'id', 'key');
      const where = field === 'id' ? { id: parseId(args.id!, 'Project', 'id') } : { key: projectKey(args.key!) };
      const project = await ctx.prisma.project.findFirst({
        ...query,
        ...JOINED,
        where: { ...where, ...readableProjects(viewer) },
      });
      if (project === null) throw notFound('Project', field);
      return project;
    },
  }),
  projects: t.prismaConnection(
    {
      type: 'Project',
      cursor: 'id',
      ...pageSize,
      description: 'The projects you belong to (all of them, for an admin), newest first.',
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.project.findMany({
          ...query,
          ...JOINED,
          where: readableProjects(viewerOf(ctx)),
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        }),
      totalCount: (_root, _args, ctx) => ctx.prisma.project.count({ where: readableProjects(viewerOf(ctx)) }),
    },
    { extensions: PERSONAL },
  ),
}));

const KEY = /^[A-Z]{2,10}$/;

function projectKey(value: string): string {
  const key = value.trim().toUpperCase();
  if (!KEY.test(key)) throw badUserInput('key', 'key must be 2 to 10 letters, e.g. WEB.');
  return key;
}

/** Every project mutation answers with the project as it now is, loaded with the client's selection. */
const projectPayload = {
  outputFields: (t: PayloadFieldBuilder<{ projectId: string }>) => ({
    project: t.prismaField({
      type: 'Project',
      resolve: (query, payload, _args, ctx) =>
        ctx.prisma.project.findUniqueOrThrow({ ...query, where: { id: payload.projectId } }),
    }),
  }),
};

builder.relayMutationField(
  'createProject',
  {
    inputFields: (t) => ({
      key: t.string({ required: true, description: '2 to 10 letters, unique; stored upper-case.' }),
      name: t.string({ required: true }),
      description: t.string(),
    }),
  },
  {
    description: 'Creates a project owned by you, with you as its first member.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const data = checkFields({
        key: () => projectKey(input.key),
        name: () => requiredText(input.name, 'name', LIMITS.projectName),
        description: () => optionalText(input.description ?? '', 'description', LIMITS.description),
      });
      const project = await transact(ctx, async (tx, emit) => {
        const project = await tx.project.create({
          data: { ...data, ownerId: viewer.id, memberships: { create: { userId: viewer.id } } },
          select: { id: true },
        });
        emit({ type: 'PROJECT_CREATED', actorId: viewer.id, projectId: project.id });
        return project;
      });
      return { projectId: project.id };
    },
  },
  projectPayload,
);

builder.relayMutationField(
  'updateProject',
  {
    inputFields: (t) => ({
      projectId: t.id({ required: true }),
      name: t.string({ description: 'Left out or null: unchanged.' }),
      description: t.string({ description: 'Left out or null: unchanged.' }),
    }),
  },
  {
    description: "Renames or redescribes a project. The owner's or an admin's to do.",
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { projectId, ...data } = checkFields({
        projectId: () => parseId(input.projectId, 'Project', 'projectId'),
        name: () => (input.name == null ? undefined : requiredText(input.name, 'name', LIMITS.projectName)),
        description: () =>
          input.description == null ? undefined : optionalText(input.description, 'description', LIMITS.description),
      });
      await transact(ctx, async (tx, emit) => {
        assertCanManageProject(viewer, await findReadableProject(tx, viewer, projectId, 'projectId'));
        await tx.project.update({ where: { id: projectId }, data, select: { id: true } });
        emit({ type: 'PROJECT_UPDATED', actorId: viewer.id, projectId });
      });
      return { projectId };
    },
  },
  projectPayload,
);

const membershipInput = {
  inputFields: (t: PothosSchemaTypes.InputFieldBuilder<BuilderTypes, 'InputObject'>) => ({
    projectId: t.id({ required: true }),
    userId: t.id({ required: true }),
  }),
};

/** A membership mutation's two ids, both checked before either is refused. */
const parseMembership = (input: { projectId: string; userId: string }) =>
  checkFields({
    projectId: () => parseId(input.projectId, 'Project', 'projectId'),
    userId: () => parseId(input.userId, 'User', 'userId'),
  });

builder.relayMutationField(
  'addProjectMember',
  membershipInput,
  {
    description: 'Adds a user to a project; adding a member again changes nothing. The owner or an admin may.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { projectId, userId } = parseMembership(input);
      await transact(ctx, async (tx, emit) => {
        assertCanManageProject(viewer, await findReadableProject(tx, viewer, projectId, 'projectId'));
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (user === null) throw notFound('User', 'userId');
        const { count } = await tx.projectMember.createMany({ data: [{ projectId, userId }], skipDuplicates: true });
        if (count > 0) emit({ type: 'MEMBER_ADDED', actorId: viewer.id, projectId, userId });
      });
      return { projectId };
    },
  },
  projectPayload,
);

builder.relayMutationField(
  'removeProjectMember',
  membershipInput,
  {
    description:
      'Removes a member from a project and unassigns their bugs there. The owner cannot be removed. The owner or an admin may.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { projectId, userId } = parseMembership(input);
      await transact(ctx, async (tx, emit) => {
        const project = await findReadableProject(tx, viewer, projectId, 'projectId');
        assertCanManageProject(viewer, project);
        if (project.ownerId === userId) throw badUserInput('userId', "The project's owner cannot be removed.");
        if (!(await isProjectMember(tx, projectId, userId))) throw notFound('Member', 'userId');
        // An assignee must be a member, so whoever leaves leaves their bugs unassigned.
        // They stop watching its bugs too, before the unassignments below tell the watchers.
        await stopWatchingProject(tx, projectId, userId);
        const unassigned = await tx.bug.updateManyAndReturn({
          where: { projectId, assigneeId: userId },
          data: { assigneeId: null },
          select: { id: true },
        });
        await tx.projectMember.delete({ where: { projectId_userId: { projectId, userId } } });
        for (const bug of unassigned) {
          await recordAssignment(tx, emit, viewer.id, { bugId: bug.id, projectId, assigneeId: userId }, null);
        }
        emit({ type: 'MEMBER_REMOVED', actorId: viewer.id, projectId, userId });
      });
      return { projectId };
    },
  },
  projectPayload,
);
