import type { Prisma } from '../../generated/prisma/client';
import type { ActivityKind, EventType, NotificationKind } from '../../generated/prisma/enums';
import type { EventData, FieldChange, NewEvent } from '../../events/event';
import { recordActivity } from './history';
import { autoWatch, watchersOf } from './watching';

/** A change to a bug, as a mutation describes it; see recordBugChange. */
export interface BugChange {
  type: EventType;
  actorId: string;
  projectId: string;
  bugId: string;
  commentId?: string;
  /** The person the change is about (the assignee), as the event carries it. */
  userId?: string | null;
  /** Its history entry; none when nothing changed. */
  activity?: ActivityKind;
  changes?: FieldChange[];
  /** Who starts watching because of it (the reporter, an assignee, a commenter). */
  watchers?: (string | null)[];
  /** The inbox entry it makes: for every watcher (`toWatchers`) and for `alsoNotify`, never the actor. */
  notification?: { kind: NotificationKind; toWatchers: boolean; alsoNotify?: string | null };
  /** What else the event carries (a status move). */
  data?: Pick<EventData, 'from' | 'to'>;
}

/**
 * Everything that goes with a change to a bug, in its transaction: its history entry, who starts
 * watching, and the event, which names who gets an inbox entry (written with it by the outbox).
 */
export async function recordBugChange(
  tx: Prisma.TransactionClient,
  emit: (event: NewEvent) => void,
  change: BugChange,
): Promise<void> {
  const { bugId, actorId, changes = [] } = change;
  if (change.activity !== undefined) {
    await recordActivity(tx, bugId, [{ kind: change.activity, actorId, commentId: change.commentId, changes }]);
  }
  await autoWatch(tx, bugId, change.watchers ?? []);
  let notify: string[] = [];
  if (change.notification !== undefined) {
    const { toWatchers, alsoNotify = null } = change.notification;
    const recipients = new Set(toWatchers ? await watchersOf(tx, bugId) : []);
    if (alsoNotify !== null) recipients.add(alsoNotify);
    recipients.delete(actorId);
    notify = [...recipients];
  }
  emit({
    type: change.type,
    actorId,
    projectId: change.projectId,
    bugId,
    commentId: change.commentId ?? null,
    userId: change.userId ?? null,
    data: {
      ...change.data,
      changes,
      ...(notify.length > 0 ? { notify, notification: change.notification!.kind } : {}),
    },
  });
}
