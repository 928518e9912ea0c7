import type { ExecutionResult } from 'graphql';
import type { PrismaClient } from '../generated/prisma/client';
import type { UserRole } from '../generated/prisma/enums';
import type { EventFeed } from '../events/feed';
import { unauthenticated } from '../graphql/errors';
import type { Logger } from '../infra/log';
import type { TokenService } from './auth';
import type { RateLimits } from './rate-limits';
import type { Viewers } from './viewers';

/** The signed-in user, as far as authorization needs to know them. */
export interface Viewer {
  id: string;
  role: UserRole;
}

/** What every resolver receives, over HTTP and WebSocket alike. */
export interface Context {
  prisma: PrismaClient;
  tokens: TokenService;
  /** The event log: mutations publish to it, subscriptions read from it. */
  events: EventFeed;
  /** The users behind tokens, looked up once per token lifetime. */
  viewers: Viewers;
  /** Per-address, per-account and per-user budgets, shared by every instance when there is Redis. */
  rateLimits: RateLimits;
  /** Where the operation came from (see clientAddress): the key for anonymous rate limits. */
  clientAddress: string;
  /** When the operation's token expires (ms since the epoch); subscriptions end then. Undefined without one. */
  tokenExpiresAt?: number;
  /** Null when the request carries no token. A request with a bad token never gets this far. */
  viewer: Viewer | null;
  /**
   * Where the transport can take a subscription's results without its own machinery (a WebSocket
   * operation): sends one to the subscriber at once. Shared results then go from the event to the
   * socket directly (modules/realtime/shared-results.ts).
   */
  sendResult?: (result: ExecutionResult) => void;
  /** This operation's logger: its lines carry the HTTP request's `reqId`, or the socket's `connId` and the operation's `opId`. */
  log: Logger;
}

/** Services the context is built from, created once per app. */
export type ContextServices = Omit<Context, 'viewer' | 'clientAddress' | 'tokenExpiresAt' | 'sendResult' | 'log'>;

/** The signed-in viewer, or UNAUTHENTICATED: the guard at the top of every field but `me`, `signUp` and `logIn`. */
export function viewerOf(ctx: Pick<Context, 'viewer'>): Viewer {
  if (ctx.viewer === null) throw unauthenticated();
  return ctx.viewer;
}
