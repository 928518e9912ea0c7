import type { BugStatus } from '../../generated/prisma/enums';

/** The moves a bug's status may make. Anything else, staying put included, is refused. */
export const STATUS_MOVES: Readonly<Record<BugStatus, readonly BugStatus[]>> = {
  OPEN: ['IN_PROGRESS', 'RESOLVED', 'CLOSED'],
  IN_PROGRESS: ['OPEN', 'RESOLVED', 'CLOSED'],
  RESOLVED: ['CLOSED', 'OPEN'],
  CLOSED: ['OPEN'],
};

export const canMove = (from: BugStatus, to: BugStatus) => STATUS_MOVES[from].includes(to);
