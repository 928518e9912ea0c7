import { badUserInput } from './errors';
import { UUID } from './validation';

/** The object types that have global IDs. */
export type NodeType = 'User' | 'Project' | 'Bug' | 'Comment' | 'Notification' | 'Label';
const NODE_TYPES = new Set<string>(['User', 'Project', 'Bug', 'Comment', 'Notification', 'Label']);

/**
 * Decodes a Relay global ID (base64 of `Type:uuid`). Anything that is not one of ours is the
 * client's mistake, reported as BAD_USER_INPUT on `field` before it reaches the database.
 */
export function decodeGlobalId(globalId: string, field = 'id'): { typename: NodeType; id: string } {
  const decoded = Buffer.from(globalId, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  const typename = decoded.slice(0, separator);
  const id = decoded.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.has(typename) || !UUID.test(id)) {
    throw badUserInput(field, `"${globalId}" is not a valid ID.`);
  }
  return { typename: typename as NodeType, id };
}

/** The database id inside a global ID that must name a `typename`. */
export function parseId(globalId: string, typename: NodeType, field: string): string {
  const decoded = decodeGlobalId(globalId, field);
  if (decoded.typename !== typename) throw badUserInput(field, `"${globalId}" is not a ${typename} ID.`);
  return decoded.id;
}
