import { encodeCursor } from '../../events/event';
import { builder } from '../../graphql/builder';
import { SHARED } from '../../graphql/viewer';

/** What the Event interface reads: an event row, or an inbox entry (which carries its event's position). */
export interface EventLike {
  position: bigint;
  createdAt: Date;
}

// An event's payload is the same for everyone allowed to receive the event (the subscription
// decides who that is), except where a field says otherwise.
export const eventFields = builder.interfaceRef<EventLike>('Event').implement({
  extensions: SHARED,
  description: 'Something that happened, at a position in the event log.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Where this event is in the log: pass it as `after` when you resubscribe to miss nothing.',
      resolve: (event) => encodeCursor(event.position),
    }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => event.createdAt }),
  }),
});
