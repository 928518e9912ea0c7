import type { StoredEvent } from '../src/events/event';
import { decodeGlobalId } from '../src/graphql/ids';
import * as ops from './operations';
import { createBug, createProject, signUp } from './helpers/fixtures';
import { useServer } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

describe('routing events to the subscriptions they concern', () => {
  const server = useServer();

  it('wakes only the streams on an event’s routes, however many others wait', async () => {
    const owner = await signUp(server.current, 'router');
    const assignee = await signUp(server.current, 'routed');
    const project = await createProject(server.current, owner, [assignee]);
    const { events } = server.current.app;
    const assigneeId = decodeGlobalId(assignee.id).id;

    // 500 streams waiting on routes no event of this test touches, and one on the assignee's.
    const looked: StoredEvent[] = [];
    const bystanders = Array.from({ length: 500 }, (_, i) =>
      events.stream(events.head, [`user:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`], (event) => {
        looked.push(event);
        return Promise.resolve(event);
      }),
    );
    const mine = events.stream(events.head, [`user:${assigneeId}`], (event) =>
      Promise.resolve(event.type === 'BUG_CREATED' && event.userId === assigneeId ? event : null),
    );
    const pending = bystanders.map((stream) => stream.next());
    const next = mine.next();
    try {
      // Let every stream reach its wait before anything happens.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const bug = await createBug(server.current, owner, project.id, { assigneeId: assignee.id });
      const delivered = (await next).value as StoredEvent;
      expect(delivered).toMatchObject({ type: 'BUG_CREATED', userId: assigneeId });
      expect(bug.assignee?.id).toBe(assignee.id);
      expect(looked).toEqual([]);
    } finally {
      for (const stream of [...bystanders, mine]) await stream.return?.(undefined);
      await Promise.all(pending);
    }
  });

  it('takes a stream off its routes when it ends, returned by its consumer or failed', async () => {
    const owner = await signUp(server.current, 'leaver');
    const project = await createProject(server.current, owner, []);
    const { events } = server.current.app;
    const before = events.listening;
    const route = `project:${decodeGlobalId(project.id).id}`;
    const returned = events.stream(events.head, [route], (event) => Promise.resolve(event));
    const failing = events.stream(events.head, [route], () => Promise.reject(new Error('select failed')));
    const returnedNext = returned.next();
    const failed = failing.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.listening).toBe(before + 2);

    await returned.return?.(undefined);
    expect(await returnedNext).toEqual({ value: undefined, done: true });
    await createBug(server.current, owner, project.id);
    await expect(failed).rejects.toThrow('select failed');
    expect(events.listening).toBe(before);
  });

  it('keeps order and skips nothing when a stream is woken past events that were not its own', async () => {
    const owner = await signUp(server.current, 'order-owner');
    const member = await signUp(server.current, 'order-member');
    const project = await createProject(server.current, owner, [member]);
    const other = await createProject(server.current, owner);
    const client = connect(server.current, member);
    try {
      const { eventCursor } = await server.current.ok(ops.EventCursor, {}, member.token);
      const changes = subscribe(client, ops.OnBugChanged, { projectId: project.id, after: eventCursor });
      // Events of another project in between: the stream sleeps through them and must still see
      // each of its own, in order.
      const titles: string[] = [];
      for (let i = 0; i < 6; i++) {
        await createBug(server.current, owner, other.id, { title: `elsewhere ${i}` });
        const title = `here ${i}`;
        titles.push(title);
        await createBug(server.current, owner, project.id, { title });
      }
      const received = [];
      for (let i = 0; i < titles.length; i++) received.push((await changes.next()).bugChanged.bug.title);
      expect(received).toEqual(titles);
    } finally {
      await client.dispose();
    }
  });
});
