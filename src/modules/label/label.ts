import { Prisma } from '../../generated/prisma/client';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { transact } from '../../events/outbox';
import type { PayloadFieldBuilder } from '../../graphql/builder';
import { builder } from '../../graphql/builder';
import { badUserInput, conflict, notFound } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { checkFields, optionalText, requiredText } from '../../graphql/validation';
import { SHARED } from '../../graphql/viewer';
import { viewerOf } from '../../server/context';
import { findReadableBug } from '../bug/access';
import { recordBugChange } from '../bug/changes';
import { bugPayload } from '../bug/payload';
import { findReadableProject, readableProjects } from '../project/access';

// Labels belong to a project; any member (or an admin) may create, edit and delete them and put
// them on the project's bugs. Names are unique in a project ignoring case (`nameKey`, the name
// lower-cased, carries the unique index). Putting labels on a bug is a change to the bug: a
// `bugChanged` UPDATED event with its `changes`, and a history entry.

const LABEL_NAME_MAX = 50;
const LABEL_DESCRIPTION_MAX = 500;
const COLOR = /^#[0-9a-f]{6}$/i;

export const LabelNode = builder.prismaNode('Label', {
  id: { field: 'id' },
  extensions: SHARED,
  select: { id: true },
  findUnique: (id, ctx) => ({ id, project: readableProjects(viewerOf(ctx)) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    color: t.exposeString('color', { description: 'A CSS color, `#rrggbb` (lower-case).' }),
    description: t.exposeString('description'),
    project: t.relation('project'),
  }),
});

builder.prismaObjectFields('Project', (t) => ({
  labels: t.relation('labels', {
    description: "The project's labels, by name.",
    query: { orderBy: { nameKey: 'asc' } },
  }),
}));

builder.prismaObjectFields('Bug', (t) => ({
  labels: t.field({
    type: [LabelNode],
    description: "The bug's labels, by name.",
    select: (_args, _ctx, nestedSelection) => ({
      labels: { select: { label: nestedSelection(true) }, orderBy: { label: { nameKey: 'asc' } } },
    }),
    resolve: (bug) => bug.labels.map((tag) => tag.label),
  }),
}));

const labelName = (value: string) => requiredText(value, 'name', LABEL_NAME_MAX);
const labelColor = (value: string) => {
  const color = value.trim().toLowerCase();
  if (!COLOR.test(color)) throw badUserInput('color', 'color must be a CSS color like #1f6feb.');
  return color;
};
const labelDescription = (value: string) => optionalText(value, 'description', LABEL_DESCRIPTION_MAX);

/**
 * The unique index on (projectId, nameKey) is what keeps names unique, racing writers included;
 * its refusal becomes CONFLICT on `name`, rather than the generic one on the index's columns.
 */
function nameTaken(name: string) {
  return (error: unknown): never => {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw conflict('name', `The project already has a label "${name}" (ignoring case).`);
    }
    throw error;
  };
}

/** A label in a project the viewer may read, or NOT_FOUND. */
async function findReadableLabel(db: Prisma.TransactionClient, viewer: ReturnType<typeof viewerOf>, labelId: string) {
  const label = await db.label.findFirst({
    where: { id: labelId, project: readableProjects(viewer) },
    select: { id: true, projectId: true },
  });
  if (label === null) throw notFound('Label', 'labelId');
  return label;
}

const labelPayload = {
  outputFields: (t: PayloadFieldBuilder<{ labelId: string }>) => ({
    label: t.prismaField({
      type: 'Label',
      resolve: (query, payload, _args, ctx) =>
        ctx.prisma.label.findUniqueOrThrow({ ...query, where: { id: payload.labelId } }),
    }),
  }),
};

builder.relayMutationField(
  'createLabel',
  {
    inputFields: (t) => ({
      projectId: t.id({ required: true }),
      name: t.string({
        required: true,
        description: `1 to ${LABEL_NAME_MAX} characters, unique in the project ignoring case.`,
      }),
      color: t.string({ required: true, description: '`#rrggbb`.' }),
      description: t.string(),
    }),
  },
  {
    description: 'Adds a label to a project you belong to (any member may).',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const fields = checkFields({
        projectId: () => parseId(input.projectId, 'Project', 'projectId'),
        name: () => labelName(input.name),
        color: () => labelColor(input.color),
        description: () => labelDescription(input.description ?? ''),
      });
      const label = await transact(ctx, async (tx, emit) => {
        await findReadableProject(tx, viewer, fields.projectId, 'projectId');
        const label = await tx.label.create({
          data: { ...fields, nameKey: fields.name.toLowerCase() },
          select: { id: true },
        });
        emit({ type: 'PROJECT_UPDATED', actorId: viewer.id, projectId: fields.projectId });
        return label;
      }).catch(nameTaken(fields.name));
      return { labelId: label.id };
    },
  },
  labelPayload,
);

builder.relayMutationField(
  'updateLabel',
  {
    inputFields: (t) => ({
      labelId: t.id({ required: true }),
      name: t.string({ description: 'Left out or null: unchanged.' }),
      color: t.string({ description: 'Left out or null: unchanged.' }),
      description: t.string({ description: 'Left out or null: unchanged.' }),
    }),
  },
  {
    description: 'Renames, recolors or redescribes a label of a project you belong to. Bugs keep it.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const fields = checkFields({
        labelId: () => parseId(input.labelId, 'Label', 'labelId'),
        name: () => (input.name == null ? undefined : labelName(input.name)),
        color: () => (input.color == null ? undefined : labelColor(input.color)),
        description: () => (input.description == null ? undefined : labelDescription(input.description)),
      });
      const { labelId, ...data } = fields;
      if (Object.values(data).every((value) => value === undefined)) {
        throw badUserInput('input', 'Give at least one of name, color or description.');
      }
      await transact(ctx, async (tx, emit) => {
        const label = await findReadableLabel(tx, viewer, labelId);
        await tx.label.update({
          where: { id: labelId },
          data: { ...data, ...(data.name === undefined ? {} : { nameKey: data.name.toLowerCase() }) },
          select: { id: true },
        });
        emit({ type: 'PROJECT_UPDATED', actorId: viewer.id, projectId: label.projectId });
      }).catch(nameTaken(data.name ?? ''));
      return { labelId };
    },
  },
  labelPayload,
);

builder.relayMutationField(
  'deleteLabel',
  { inputFields: (t) => ({ labelId: t.id({ required: true }) }) },
  {
    description: 'Deletes a label of a project you belong to, taking it off every bug.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const labelId = parseId(input.labelId, 'Label', 'labelId');
      const projectId = await transact(ctx, async (tx, emit) => {
        const label = await findReadableLabel(tx, viewer, labelId);
        await tx.label.delete({ where: { id: labelId }, select: { id: true } });
        emit({ type: 'PROJECT_UPDATED', actorId: viewer.id, projectId: label.projectId });
        return label.projectId;
      });
      return { projectId, labelId };
    },
  },
  {
    outputFields: (t: PayloadFieldBuilder<{ projectId: string; labelId: string }>) => ({
      deletedLabelId: t.id({
        description: "The deleted label's ID, for a client to drop it from its cache.",
        resolve: (payload) => encodeGlobalID('Label', payload.labelId),
      }),
      project: t.prismaField({
        type: 'Project',
        resolve: (query, payload, _args, ctx) =>
          ctx.prisma.project.findUniqueOrThrow({ ...query, where: { id: payload.projectId } }),
      }),
    }),
  },
);

builder.relayMutationField(
  'setBugLabels',
  {
    inputFields: (t) => ({
      bugId: t.id({ required: true }),
      labelIds: t.idList({
        required: true,
        description: "Labels of the bug's project; the bug's labels become exactly these.",
      }),
    }),
  },
  {
    description: "Sets a bug's labels. A change is a bug change: a bugChanged UPDATED event and a history entry.",
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { bugId, labelIds } = checkFields({
        bugId: () => parseId(input.bugId, 'Bug', 'bugId'),
        labelIds: () => [...new Set(input.labelIds.map((id, index) => parseId(id, 'Label', `labelIds.${index}`)))],
      });
      await transact(ctx, async (tx, emit) => {
        const bug = await findReadableBug(tx, viewer, bugId, 'bugId');
        // Locked to commit, so that racing calls take turns: each one's "before" is the last one's
        // "after", and the bug ends with exactly the labels of one of them, not a mix.
        await tx.$executeRaw`SELECT 1 FROM "Bug" WHERE "id" = ${bugId}::uuid FOR UPDATE`;
        // FOR SHARE: a deleteLabel racing this waits for our commit (and then takes the label off
        // this bug too), and one that committed first leaves its label unfound, refused below;
        // without the lock the insert below would fail on the foreign key instead.
        const labels =
          labelIds.length === 0
            ? []
            : await tx.$queryRaw<{ id: string }[]>`
                SELECT "id" FROM "Label"
                WHERE "id" IN (${Prisma.join(labelIds.map((id) => Prisma.sql`${id}::uuid`))})
                  AND "projectId" = ${bug.projectId}::uuid
                FOR SHARE`;
        if (labels.length !== labelIds.length) {
          throw badUserInput('labelIds', "Every label must be one of the bug's project.");
        }
        const before = await namesOn(tx, bugId);
        await tx.bugLabel.deleteMany({ where: { bugId, labelId: { notIn: labelIds } } });
        await tx.bugLabel.createMany({ data: labelIds.map((labelId) => ({ bugId, labelId })), skipDuplicates: true });
        const after = await namesOn(tx, bugId);
        if (before === after) return;
        await recordBugChange(tx, emit, {
          type: 'BUG_UPDATED',
          actorId: viewer.id,
          projectId: bug.projectId,
          bugId,
          activity: 'UPDATED',
          changes: [{ field: 'labels', from: before, to: after }],
        });
      });
      return { bugId };
    },
  },
  bugPayload,
);

/** A bug's label names as history shows them: comma-separated by name; null for none. */
async function namesOn(db: Prisma.TransactionClient, bugId: string): Promise<string | null> {
  const rows = await db.bugLabel.findMany({
    where: { bugId },
    select: { label: { select: { name: true } } },
    orderBy: { label: { nameKey: 'asc' } },
  });
  return rows.length === 0 ? null : rows.map((row) => row.label.name).join(', ');
}
