import { unauthenticated } from '../graphql/errors';
import type { Logger } from '../infra/log';
import type { TokenService, VerifiedToken } from './auth';
import type { Context, ContextServices } from './context';

/** The claims of an `Authorization: Bearer <token>` value, or null when it is anything else. */
export function bearerClaims(tokens: TokenService, authorization: string): VerifiedToken | null {
  const [scheme, token, ...rest] = authorization.trim().split(/\s+/);
  return scheme?.toLowerCase() === 'bearer' && token !== undefined && rest.length === 0 ? tokens.verify(token) : null;
}

/**
 * Builds the context for one operation from its `Authorization` value. No value: an anonymous
 * context. A value that is not a valid Bearer token for an existing user: UNAUTHENTICATED for the
 * whole operation, so a client with a stale token learns it at once instead of seeing empty results.
 * `log` is the operation's logger (see Context).
 */
export async function buildContext(
  services: ContextServices,
  authorization: string | null | undefined,
  clientAddress: string,
  log: Logger,
): Promise<Context> {
  if (authorization == null || authorization.trim() === '') return { ...services, clientAddress, viewer: null, log };

  const claims = bearerClaims(services.tokens, authorization);
  if (claims === null) throw unauthenticated('The access token is invalid or has expired; sign in again.');

  const user = await services.viewers.get(claims.userId);
  if (user === null) throw unauthenticated('The access token is for an account that no longer exists.');
  return { ...services, clientAddress, tokenExpiresAt: claims.expiresAt, viewer: user, log };
}
