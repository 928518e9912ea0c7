import { createSecretKey, randomBytes, scrypt, timingSafeEqual, type KeyObject, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { UserRole } from '../generated/prisma/enums';
import { MIN_SECRET_LENGTH, type Config } from '../config';
import { UUID } from '../graphql/validation';

// scrypt at N=2^15, r=8: 32 MiB and roughly 50 ms a hash, the cost OWASP suggests for interactive logins.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } satisfies ScryptOptions;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** Hashes a password as `scrypt$N$r$p$salt$key` (base64), so parameters can grow without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A hash no password matches, verified for unknown emails so both failures cost the same time. */
export const UNMATCHABLE_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

export interface TokenClaims {
  userId: string;
  role: UserRole;
}

/** A verified token's claims, and when it stops being valid (ms since the epoch). */
export interface VerifiedToken extends TokenClaims {
  expiresAt: number;
}

const ISSUER = 'bugzapp';
const AUDIENCE = 'bugzapp-api';

/** Signs and verifies access tokens: HS256 only, with issuer, audience and expiry always checked. */
export class TokenService {
  // A KeyObject made once: given a string, jsonwebtoken first tries to read it as a public key on
  // every verify, and throws and catches on the way (5% of a busy server's CPU in a profile).
  private readonly secret: KeyObject;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  sign(claims: TokenClaims): string {
    return jwt.sign({ role: claims.role }, this.secret, {
      algorithm: 'HS256',
      subject: claims.userId,
      issuer: ISSUER,
      audience: AUDIENCE,
      expiresIn: this.ttlSeconds,
    });
  }

  /** Returns the claims of a valid token, or null for anything else (bad signature, expired, wrong algorithm...). */
  verify(token: string): VerifiedToken | null {
    try {
      const payload = jwt.verify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      // jsonwebtoken checks exp only when present; a token without one must not live forever.
      if (typeof payload === 'string' || typeof payload.sub !== 'string') return null;
      // Every user id is a UUID; anything else would reach the database as an invalid uuid.
      if (!UUID.test(payload.sub)) return null;
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return null;
      const role: unknown = payload.role;
      if (role !== 'ADMIN' && role !== 'MEMBER') return null;
      return { userId: payload.sub, role, expiresAt: payload.exp * 1000 };
    } catch {
      return null;
    }
  }
}

/**
 * The configured JWT_SECRET, or in development one generated on first start and kept in the data
 * folder, so tokens survive a restart. (Production refuses to start without one: see loadConfig.)
 */
export async function resolveJwtSecret(config: Pick<Config, 'jwtSecret' | 'dataDir'>): Promise<string> {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  const file = path.join(config.dataDir, 'jwt-secret');
  try {
    const stored = (await fs.readFile(file, 'utf8')).trim();
    if (stored.length >= MIN_SECRET_LENGTH) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.mkdir(config.dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
