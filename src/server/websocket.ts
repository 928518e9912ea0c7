import { GraphQLError, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import type { Disposable, OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { WebSocketServer } from 'ws';
import type { Context, ContextServices } from './context';
import { buildContext } from './http-context';

type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

/** What yoga's envelop hands back for one operation, typed as graphql-ws uses it. */
interface Enveloped {
  schema: GraphQLSchema;
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): Promise<Context> | Context;
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}

export interface WebSocketOptions {
  services: ContextServices;
  /** Milliseconds a socket may stay open without `connection_init` before it is closed with 4408. */
  connectionInitWaitTimeout: number;
}

/**
 * Serves the graphql-ws protocol on `wss`. Every operation goes through yoga's own envelop
 * (parse, validate, context, error masking), so WebSocket and HTTP behave alike.
 *
 * The token comes once, in `connection_init`: `{ "authorization": "Bearer <token>" }` (GraphiQL's
 * `{ "headers": { "Authorization": ... } }` shape is accepted too). Without a valid one the socket
 * is closed with 4403 Forbidden. Each operation then builds its context from it afresh, so an
 * account deleted or a token expired since is refused like it would be over HTTP.
 */
export function serveWebSockets(yoga: Yoga, wss: WebSocketServer, options: WebSocketOptions): Disposable {
  return useServer<Record<string, unknown> | undefined, { authorization: string }>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitTimeout,
      onConnect: async (ctx) => {
        const authorization = authorizationOf(ctx.connectionParams);
        if (authorization === undefined) return false;
        const context = await buildContext(options.services, authorization, '').catch(() => null);
        if (context?.viewer == null) return false;
        ctx.extra.authorization = authorization;
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const enveloped = yoga.getEnveloped({
          authorization: ctx.extra.authorization,
          params: payload,
        }) as unknown as Enveloped;
        try {
          const document = enveloped.parse(payload.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
          return {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue: {
              execute: (args: ExecutionArgs) => enveloped.execute(args),
              subscribe: (args: ExecutionArgs) => enveloped.subscribe(args),
            },
          } satisfies ExecutionArgs;
        } catch (error) {
          // A syntax error, or a token that expired since connecting: an `error` message, not a crash.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      },
      execute: (args) => (args.rootValue as Pick<Enveloped, 'execute'>).execute(args),
      subscribe: (args) => (args.rootValue as Pick<Enveloped, 'subscribe'>).subscribe(args),
    },
    wss,
  );
}

function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  if (params == null) return undefined;
  const headers = typeof params.headers === 'object' && params.headers !== null ? params.headers : {};
  const value = [
    params.authorization,
    params.Authorization,
    ...Object.entries(headers)
      .filter(([key]) => key.toLowerCase() === 'authorization')
      .map(([, v]) => v as unknown),
  ].find((candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== '');
  return value;
}
