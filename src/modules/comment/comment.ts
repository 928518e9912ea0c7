import { transact } from '../../events/outbox';
import { builder } from '../../graphql/builder';
import { columnDescription } from '../../graphql/columns';
import { SHARED } from '../../graphql/viewer';
import { parseId } from '../../graphql/ids';
import { checkFields, LIMITS, requiredText } from '../../graphql/validation';
import { viewerOf } from '../../server/context';
import { findReadableBug, readableComments } from '../bug/access';
import { recordBugChange } from '../bug/changes';

export const CommentNode = builder.prismaNode('Comment', {
  id: { field: 'id' },
  extensions: SHARED,
  // The body, read from the row by its field (see columnDescription); the dates, the bug and the
  // author only when asked.
  select: { id: true, body: true },
  findUnique: (id, ctx) => ({ id, AND: [readableComments(viewerOf(ctx))] }),
  fields: (t) => ({
    body: t.string({ description: columnDescription('Comment', 'body'), resolve: (comment) => comment.body }),
    bug: t.relation('bug'),
    author: t.relation('author'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.relayMutationField(
  'addComment',
  {
    inputFields: (t) => ({
      bugId: t.id({ required: true }),
      body: t.string({ required: true, description: `1 to ${LIMITS.commentBody} characters.` }),
    }),
  },
  {
    description: 'Adds a comment to a bug in a project you belong to.',
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const { bugId, body } = checkFields({
        bugId: () => parseId(input.bugId, 'Bug', 'bugId'),
        body: () => requiredText(input.body, 'body', LIMITS.commentBody),
      });
      const comment = await transact(ctx, async (tx, emit) => {
        const bug = await findReadableBug(tx, viewer, bugId, 'bugId');
        const comment = await tx.comment.create({ data: { bugId, authorId: viewer.id, body }, select: { id: true } });
        await recordBugChange(tx, emit, {
          type: 'COMMENT_ADDED',
          actorId: viewer.id,
          projectId: bug.projectId,
          bugId,
          commentId: comment.id,
          activity: 'COMMENTED',
          watchers: [viewer.id],
          notification: { kind: 'COMMENT_ADDED', toWatchers: true },
        });
        return comment;
      });
      return { commentId: comment.id };
    },
  },
  {
    outputFields: (t) => ({
      comment: t.prismaField({
        type: 'Comment',
        resolve: (query, payload, _args, ctx) =>
          ctx.prisma.comment.findUniqueOrThrow({ ...query, where: { id: payload.commentId } }),
      }),
    }),
  },
);
