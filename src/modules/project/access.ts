import type { Prisma } from '../../generated/prisma/client';
import { forbidden, notFound } from '../../graphql/errors';
import type { Viewer } from '../../server/context';

type Db = Prisma.TransactionClient;

export const isAdmin = (viewer: Viewer) => viewer.role === 'ADMIN';

/**
 * Projects the viewer may read, and so work in: the ones they belong to, or all for an admin.
 * Bugs and comments inherit this rule; everything else about a project is invisible.
 */
export function readableProjects(viewer: Viewer): Prisma.ProjectWhereInput {
  return isAdmin(viewer) ? {} : { memberships: { some: { userId: viewer.id } } };
}

/** A project the viewer may read, or NOT_FOUND on `field`, whether it is missing or merely not theirs. */
export async function findReadableProject(db: Db, viewer: Viewer, projectId: string, field: string) {
  const project = await db.project.findFirst({
    where: { id: projectId, ...readableProjects(viewer) },
    select: { id: true, ownerId: true },
  });
  if (project === null) throw notFound('Project', field);
  return project;
}

/** Only the owner or an admin edits a project and its membership. */
export function assertCanManageProject(viewer: Viewer, project: { ownerId: string }): void {
  if (project.ownerId !== viewer.id && !isAdmin(viewer)) {
    throw forbidden("Only the project's owner or an admin can do this.");
  }
}

export async function isProjectMember(db: Db, projectId: string, userId: string): Promise<boolean> {
  const membership = await db.projectMember.findUnique({
    where: { projectId_userId: { projectId, userId } },
    select: { userId: true },
  });
  return membership !== null;
}
