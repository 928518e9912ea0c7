import type { PrismaClient } from '../../generated/prisma/client';
import type { StoredEvent } from '../../events/event';
import type { Viewer } from '../../server/context';
import { recentMemo } from '../../events/recent-memo';
import { isAdmin } from '../project/access';

// Who may see an event is decided when it is delivered, not when it was written, so a member
// removed a moment ago gets nothing more. What every subscriber of an event needs to know is
// loaded once per event and instance, however many subscribers ask (see recentMemo).
//
// Only for the newest events, though. Kept for every event in the feed's memory (up to 8,192),
// the member lists held a fresh set of fresh id strings per event: 2.9 of the 6.6 KB an event
// left in the heap (bench/README.md). A subscriber replaying from further back loads an older
// event's again, as of then, as it would after a restart.
const memo = recentMemo<StoredEvent, Promise<ReadonlySet<string>>>(64);

/** The ids of the members of the event's project, as of its first delivery here (or its first in a while). */
function membersOf(prisma: PrismaClient, event: StoredEvent): Promise<ReadonlySet<string>> {
  const { projectId } = event;
  if (projectId === null) return Promise.resolve(new Set());
  return memo(event, 'members', async () => {
    const rows = await prisma.projectMember.findMany({ where: { projectId }, select: { userId: true } });
    return new Set(rows.map((row) => row.userId));
  });
}

/** The viewer is a member of the event's project now. */
export async function belongsToProjectOf(prisma: PrismaClient, viewer: Viewer, event: StoredEvent): Promise<boolean> {
  return (await membersOf(prisma, event)).has(viewer.id);
}

/** The viewer may read the event's project now: a member, or an admin. */
export async function canReadProjectOf(prisma: PrismaClient, viewer: Viewer, event: StoredEvent): Promise<boolean> {
  return isAdmin(viewer) || belongsToProjectOf(prisma, viewer, event);
}

/** The route of everything addressed to one user: assignments to them, their notifications. */
export const userRoute = (userId: string) => `user:${userId}`;
/** The route of a member's projects, whichever they are at the time of the event. */
export const memberRoute = (userId: string) => `member:${userId}`;
export const projectRoute = (projectId: string) => `project:${projectId}`;
export const bugRoute = (bugId: string) => `bug:${bugId}`;
/** The route of every user's status changes. */
export const STATUS_ROUTE = 'status';

/**
 * Every route an event may concern, for the feed to wake only the subscriptions waiting on them:
 * its project, bug and users, each member of its project (as of delivery, like the checks
 * above) and, for a removal, the member removed.
 */
export async function routesOf(prisma: PrismaClient, event: StoredEvent): Promise<string[]> {
  const routes: string[] = [];
  if (event.type === 'USER_STATUS_CHANGED') routes.push(STATUS_ROUTE);
  if (event.projectId !== null) routes.push(projectRoute(event.projectId));
  if (event.bugId !== null) routes.push(bugRoute(event.bugId));
  for (const userId of new Set([event.userId, ...(event.data.notify ?? [])])) {
    if (userId !== null) routes.push(userRoute(userId), memberRoute(userId));
  }
  for (const member of await membersOf(prisma, event)) routes.push(memberRoute(member));
  return routes;
}
