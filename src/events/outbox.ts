import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { fromRow, newestPosition, type NewEvent, type StoredEvent } from './event';

type Tx = Prisma.TransactionClient;

/** Where committed events go: the feed, which hands them to this instance and to the bus. */
export interface EventSink {
  /** Never throws: an event that fails to go out is still in the table, and every instance polls it. */
  publish(events: StoredEvent[]): Promise<void>;
}

/**
 * Runs `work` in one transaction. The events it emits are appended at the end of that same
 * transaction and published once it has committed: a change that rolls back, whether `work`
 * throws or the commit fails, leaves no event behind and publishes nothing.
 */
export async function transact<T>(
  services: { prisma: PrismaClient; events: EventSink },
  work: (tx: Tx, emit: (event: NewEvent) => void) => Promise<T>,
): Promise<T> {
  const emitted: NewEvent[] = [];
  const [result, written] = await services.prisma.$transaction(async (tx) => {
    await markAsOurs(tx);
    const result = await work(tx, (event) => emitted.push(event));
    const written = await appendEvents(tx, emitted);
    await addToInboxes(tx, written);
    return [result, written] as const;
  });
  await services.events.publish(written);
  return result;
}

/**
 * Tells the database's triggers that this transaction writes its own events: without the mark, a
 * write to bugs, comments or projects is taken for a change made outside BugZapp (psql, a script)
 * and the trigger appends an event for it (prisma/migrations/*_outside_changes). Local to the
 * transaction, so a pooled connection carries nothing over.
 */
export async function markAsOurs(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT set_config('bugzapp.origin', 'api', true)`;
}

/**
 * Appends events at the next positions. The table lock (it blocks other writers, not readers)
 * is held from here to commit, so positions are handed out in commit order and without gaps:
 * once position N is visible, everything before it is too, which is what lets readers resume
 * from a single number. Appending last keeps the lock short.
 */
async function appendEvents(tx: Tx, events: NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  await tx.$executeRaw`LOCK TABLE "Event" IN EXCLUSIVE MODE`;
  let position = await newestPosition(tx);
  const rows = await tx.event.createManyAndReturn({
    data: events.map((event) => ({
      position: ++position,
      type: event.type,
      actorId: event.actorId,
      projectId: event.projectId ?? null,
      bugId: event.bugId ?? null,
      commentId: event.commentId ?? null,
      userId: event.userId ?? null,
      data: { ...event.data },
    })),
  });
  return rows.map(fromRow);
}

/**
 * The inbox entries of the events just appended: one per recipient the event names, carrying the
 * event's position so the live `notifications` stream and the inbox show the same entry.
 */
async function addToInboxes(tx: Tx, events: StoredEvent[]): Promise<void> {
  const entries = events.flatMap((event) => {
    const { notify = [], notification, from, to, changes } = event.data;
    // Only the API's own events notify anyone, and they always have an actor.
    if (notification === undefined || event.bugId === null || event.projectId === null || event.actorId === null) {
      return [];
    }
    return notify.map((recipientId) => ({
      recipientId,
      kind: notification,
      actorId: event.actorId!,
      projectId: event.projectId!,
      bugId: event.bugId!,
      commentId: event.commentId,
      position: event.position,
      // The event's user is the assignee, for an assignment's sentence ("assigned you").
      data: { from, to, changes, assigneeId: event.userId },
      createdAt: event.createdAt,
    }));
  });
  if (entries.length > 0) await tx.notification.createMany({ data: entries });
}
