import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../generated/pothos-types';
import { getDatamodel } from '../generated/pothos-types';
import type { Context } from '../server/context';
import { viewerOf } from '../server/context';
import { decodeGlobalId } from './ids';

/** The schema builder: plugins and their settings only. Types live in src/modules. */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
    nodeQueryOptions: {
      description: 'Fetches any object by its global ID; NOT_FOUND when it does not exist or is not yours to see.',
    },
    // Only `node(id)` decodes through here (our inputs use parseId), so it doubles as that field's
    // sign-in check, which must come before telling a caller anything about the ID.
    decodeGlobalID: (globalId, ctx) => {
      viewerOf(ctx);
      return decodeGlobalId(globalId);
    },
    edgesFieldOptions: { nullable: { list: false, items: false } },
  },
});

/** The builder's type parameters, for helpers that build fields outside a `builder.*` callback. */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/** The field builder a mutation payload's `outputFields` receive, for a payload of `Shape`. */
export type PayloadFieldBuilder<Shape> = PothosSchemaTypes.ObjectFieldBuilder<BuilderTypes, Shape>;
