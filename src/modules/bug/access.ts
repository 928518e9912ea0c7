import type { Prisma } from '../../generated/prisma/client';
import { notFound } from '../../graphql/errors';
import type { Viewer } from '../../server/context';
import { isAdmin, readableProjects } from '../project/access';

type Db = Prisma.TransactionClient;

/** Bugs the viewer may read and work on: those of the projects they may read. */
export function readableBugs(viewer: Viewer): Prisma.BugWhereInput {
  return isAdmin(viewer) ? {} : { project: readableProjects(viewer) };
}

/** Comments follow their bug. */
export function readableComments(viewer: Viewer): Prisma.CommentWhereInput {
  return isAdmin(viewer) ? {} : { bug: readableBugs(viewer) };
}

/** A bug the viewer may read, with what mutations check, or NOT_FOUND on `field`. */
export async function findReadableBug(db: Db, viewer: Viewer, bugId: string, field: string) {
  const bug = await db.bug.findFirst({
    where: { id: bugId, ...readableBugs(viewer) },
    select: { id: true, projectId: true, status: true, assigneeId: true, reporterId: true },
  });
  if (bug === null) throw notFound('Bug', field);
  return bug;
}
