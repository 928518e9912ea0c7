import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../generated/pothos-types';
import { getDatamodel } from '../generated/pothos-types';
import type { Context } from '../server/context';
import { viewerOf } from '../server/context';
import { decodeGlobalId } from './ids';
import { SHARED } from './viewer';
import { pageSize } from './validation';

/** The Prisma schema as Pothos reads it: models, columns and their `///` documentation. */
export const datamodel = getDatamodel();

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
  plugins: [PrismaPlugin, RelayPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  // An operation's cost: each field costs 1, and a list multiplies what it selects by its page
  // size. MAX_QUERY_COST is checked against it at validation (src/graphql/limits.ts), before any
  // resolver runs, so the plugin's own check in every root resolver is switched off.
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: pageSize.defaultSize,
    disabled: true,
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: datamodel,
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
    // A connection's page is costed once, on the connection field, by the size asked for; its
    // edges list must not multiply it again.
    defaultConnectionFieldOptions: {
      complexity: ({ first, last }) => ({ multiplier: first ?? last ?? pageSize.defaultSize }),
    },
    edgesFieldOptions: { nullable: { list: false, items: false }, complexity: { multiplier: 1 } },
    // Connections, edges, page info and payloads show what their parent holds (see viewer.ts);
    // a root connection that counts what the viewer may see says so itself.
    nodeTypeOptions: { extensions: SHARED },
    pageInfoTypeOptions: { extensions: SHARED },
    defaultConnectionTypeOptions: { extensions: SHARED },
    defaultEdgeTypeOptions: { extensions: SHARED },
    defaultPayloadTypeOptions: { extensions: SHARED },
  },
});

/** The builder's type parameters, for helpers that build fields outside a `builder.*` callback. */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/** The field builder a mutation payload's `outputFields` receive, for a payload of `Shape`. */
export type PayloadFieldBuilder<Shape> = PothosSchemaTypes.ObjectFieldBuilder<BuilderTypes, Shape>;
