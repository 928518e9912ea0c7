import type { Config } from '../config';

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * Whether a browser page at `origin` may call the API (CORS) or open a WebSocket to it. The
 * development default, `'localhost'`, allows any port on this machine; otherwise only the listed
 * origins, compared exactly.
 */
export function originAllowed(allowed: Config['corsOrigins'], origin: string): boolean {
  return allowed === 'localhost' ? LOCALHOST.test(origin) : allowed.includes(origin);
}
