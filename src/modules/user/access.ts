import type { Prisma } from '../../generated/prisma/client';
import type { Viewer } from '../../server/context';
import { isAdmin } from '../project/access';

/** Users the viewer may see: everyone for an admin; otherwise themselves and whoever shares a project with them. */
export function visibleUsers(viewer: Viewer): Prisma.UserWhereInput {
  if (isAdmin(viewer)) return {};
  return {
    OR: [{ id: viewer.id }, { memberships: { some: { project: { memberships: { some: { userId: viewer.id } } } } } }],
  };
}
