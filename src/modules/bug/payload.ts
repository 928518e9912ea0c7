import type { PayloadFieldBuilder } from '../../graphql/builder';

/** Every bug mutation answers with the bug as it now is, loaded with the client's selection. */
export const bugPayload = {
  outputFields: (t: PayloadFieldBuilder<{ bugId: string }>) => ({
    bug: t.prismaField({
      type: 'Bug',
      resolve: (query, payload, _args, ctx) =>
        ctx.prisma.bug.findUniqueOrThrow({ ...query, where: { id: payload.bugId } }),
    }),
  }),
};
