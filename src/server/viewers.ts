import type { PrismaClient } from '../generated/prisma/client';
import type { StoredEvent } from '../events/event';
import type { Viewer } from './context';

/** Users kept at most; the least recently seen go first. */
const MAX_VIEWERS = 10_000;

/**
 * Who a token's user is, as authorization needs it (id and role): looked up on first use and then
 * kept for as long as a token lives, so an operation costs no query to find its viewer. Role
 * never changes through the API; a user's status change (an event) drops the entry, so whatever
 * reads the user next reads it afresh. An account that does not exist is never kept.
 */
export class Viewers {
  readonly #entries = new Map<string, { viewer: Promise<Viewer | null>; until: number }>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly keepMs: number,
  ) {}

  get(userId: string): Promise<Viewer | null> {
    const entry = this.#entries.get(userId);
    this.#entries.delete(userId);
    if (entry !== undefined && entry.until > Date.now()) {
      this.#entries.set(userId, entry); // the most recently seen, last
      return entry.viewer;
    }
    const viewer = this.prisma.user.findUnique({ where: { id: userId }, select: { id: true, role: true } });
    this.#entries.set(userId, { viewer, until: Date.now() + this.keepMs });
    void viewer.then(
      (found) => found === null && this.#forget(userId, viewer),
      () => this.#forget(userId, viewer),
    );
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= MAX_VIEWERS) break;
      this.#entries.delete(oldest);
    }
    return viewer;
  }

  /** Drops what an event may have changed. */
  onEvent(event: StoredEvent): void {
    if (event.type === 'USER_STATUS_CHANGED' && event.userId !== null) this.#entries.delete(event.userId);
  }

  #forget(userId: string, viewer: Promise<Viewer | null>): void {
    if (this.#entries.get(userId)?.viewer === viewer) this.#entries.delete(userId);
  }
}
