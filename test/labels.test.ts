import type { Client } from 'graphql-ws';
import { decodeGlobalId } from '../src/graphql/ids';
import * as ops from './operations';
import { createBug, createProject, errorOf, missingId, signUp, unique, type TestUser } from './helpers/fixtures';
import { recordSql, useServer, type TestServer } from './helpers/server';
import { connect, subscribe } from './helpers/subscriptions';

/** The uuid inside a global ID, for the rows written with SQL. */
const uuidOf = (globalId: string) => decodeGlobalId(globalId).id;

const addLabel = async (server: TestServer, user: TestUser, projectId: string, name: string, color = '#d73a4a') => {
  const { createLabel } = await server.ok(ops.CreateLabel, { input: { projectId, name, color } }, user.token);
  return createLabel.label;
};

const setLabels = (server: TestServer, user: TestUser, bugId: string, labelIds: string[]) =>
  server.ok(ops.SetBugLabels, { input: { bugId, labelIds } }, user.token).then((result) => result.setBugLabels.bug);

describe('labels', () => {
  const server = useServer();
  const clients: Client[] = [];
  let owner: TestUser, member: TestUser, outsider: TestUser;
  let projectId: string;

  beforeAll(async () => {
    await signUp(server.current, 'admin'); // the first account is an admin; nobody below is
    owner = await signUp(server.current, 'owner');
    member = await signUp(server.current, 'member');
    outsider = await signUp(server.current, 'outsider');
    projectId = (await createProject(server.current, owner, [member])).id;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => Promise.resolve(client.dispose())));
  });

  it('lets any member create a label, its name unique in the project ignoring case', async () => {
    const fresh = (await createProject(server.current, owner, [member])).id;
    const { createLabel } = await server.current.ok(
      ops.CreateLabel,
      { input: { projectId: fresh, name: ' Regression ', color: '#1F6FEB', description: 'Worked before' } },
      member.token,
    );
    expect(createLabel.label).toEqual({
      id: expect.any(String) as unknown,
      name: 'Regression',
      color: '#1f6feb',
      description: 'Worked before',
      project: { id: fresh },
    });

    const again = await server.current.request(
      ops.CreateLabel,
      { input: { projectId: fresh, name: 'regression', color: '#000000' } },
      owner.token,
    );
    expect(errorOf(again)).toEqual({ code: 'CONFLICT', field: 'name' });

    // Another project may have its own.
    const elsewhere = (await createProject(server.current, owner)).id;
    const there = await addLabel(server.current, owner, elsewhere, 'Regression');
    expect(there.project.id).toBe(elsewhere);

    const { project } = await server.current.ok(ops.ProjectLabels, { id: fresh }, owner.token);
    expect(project.labels.map((label) => label.name)).toEqual(['Regression']);
  });

  it('refuses a color that is not #rrggbb, and a name that is empty or too long', async () => {
    for (const color of ['red', '#12345', '#1234567', '#12345g', '1f6feb', '']) {
      const result = await server.current.request(
        ops.CreateLabel,
        { input: { projectId, name: unique('color'), color } },
        member.token,
      );
      expect({ color, error: errorOf(result) }).toEqual({ color, error: { code: 'BAD_USER_INPUT', field: 'color' } });
    }
    for (const name of ['', '   ', 'x'.repeat(51)]) {
      const result = await server.current.request(
        ops.CreateLabel,
        { input: { projectId, name, color: '#ffffff' } },
        member.token,
      );
      expect({ name, error: errorOf(result) }).toEqual({ name, error: { code: 'BAD_USER_INPUT', field: 'name' } });
    }
    const label = await addLabel(server.current, member, projectId, unique('color'));
    const recolor = await server.current.request(
      ops.UpdateLabel,
      { input: { labelId: label.id, color: 'red' } },
      member.token,
    );
    expect(errorOf(recolor)).toEqual({ code: 'BAD_USER_INPUT', field: 'color' });
  });

  it('answers NOT_FOUND to someone outside the project, as for a label that does not exist', async () => {
    const label = await addLabel(server.current, owner, projectId, unique('private'));
    const bug = await createBug(server.current, owner, projectId);
    const attempts = [
      [
        await server.current.request(
          ops.CreateLabel,
          { input: { projectId, name: 'x', color: '#ffffff' } },
          outsider.token,
        ),
        'projectId',
      ],
      [
        await server.current.request(ops.UpdateLabel, { input: { labelId: label.id, name: 'mine' } }, outsider.token),
        'labelId',
      ],
      [await server.current.request(ops.DeleteLabel, { input: { labelId: label.id } }, outsider.token), 'labelId'],
      [
        await server.current.request(ops.DeleteLabel, { input: { labelId: missingId('Label') } }, owner.token),
        'labelId',
      ],
      [
        await server.current.request(
          ops.SetBugLabels,
          { input: { bugId: bug.id, labelIds: [label.id] } },
          outsider.token,
        ),
        'bugId',
      ],
      [await server.current.request(ops.ProjectLabels, { id: projectId }, outsider.token), 'id'],
    ] as const;
    for (const [result, field] of attempts) expect(errorOf(result)).toEqual({ code: 'NOT_FOUND', field });
    // Read as a node, it is no more there than a label that never was.
    const seen = await server.current.request(ops.Node, { id: label.id }, outsider.token);
    expect(errorOf(seen)).toEqual({ code: 'NOT_FOUND' });
    expect(await server.current.request(ops.Node, { id: missingId('Label') }, outsider.token)).toEqual(seen);
    // Nothing changed.
    const { project } = await server.current.ok(ops.ProjectLabels, { id: projectId }, owner.token);
    expect(project.labels.find((each) => each.id === label.id)).toMatchObject({ name: label.name });
  });

  it('renames and recolors a label, which the bugs carrying it show', async () => {
    const label = await addLabel(server.current, member, projectId, unique('old'), '#aaaaaa');
    const taken = await addLabel(server.current, member, projectId, unique('taken'));
    const bug = await createBug(server.current, owner, projectId);
    await setLabels(server.current, member, bug.id, [label.id]);
    // Read once before the change, so that a cached answer would show.
    expect((await server.current.ok(ops.BugLabels, { id: bug.id }, member.token)).bug.labels).toHaveLength(1);

    const name = unique('New');
    const { updateLabel } = await server.current.ok(
      ops.UpdateLabel,
      { input: { labelId: label.id, name, color: '#BBBBBB' } },
      owner.token,
    );
    expect(updateLabel.label).toMatchObject({ id: label.id, name, color: '#bbbbbb', description: '' });
    const { updateLabel: described } = await server.current.ok(
      ops.UpdateLabel,
      { input: { labelId: label.id, description: 'Explained' } },
      member.token,
    );
    expect(described.label).toMatchObject({ name, color: '#bbbbbb', description: 'Explained' });
    const { bug: after } = await server.current.ok(ops.BugLabels, { id: bug.id }, member.token);
    expect(after.labels).toEqual([{ id: label.id, name, color: '#bbbbbb' }]);

    // Its own name in another case is fine; another label's is not.
    const recased = await server.current.ok(
      ops.UpdateLabel,
      { input: { labelId: label.id, name: name.toUpperCase() } },
      member.token,
    );
    expect(recased.updateLabel.label.name).toBe(name.toUpperCase());
    const clash = await server.current.request(
      ops.UpdateLabel,
      { input: { labelId: label.id, name: taken.name.toUpperCase() } },
      member.token,
    );
    expect(errorOf(clash)).toEqual({ code: 'CONFLICT', field: 'name' });
  });

  it('deletes a label, taking it off every bug', async () => {
    const doomed = await addLabel(server.current, member, projectId, unique('doomed'));
    const kept = await addLabel(server.current, member, projectId, unique('kept'));
    const bugs = [await createBug(server.current, owner, projectId), await createBug(server.current, owner, projectId)];
    for (const bug of bugs) await setLabels(server.current, member, bug.id, [doomed.id, kept.id]);
    // Read once before the change, so that a cached answer would show.
    for (const bug of bugs) {
      expect((await server.current.ok(ops.BugLabels, { id: bug.id }, owner.token)).bug.labels).toHaveLength(2);
    }

    const { deleteLabel } = await server.current.ok(ops.DeleteLabel, { input: { labelId: doomed.id } }, member.token);
    expect(deleteLabel.deletedLabelId).toBe(doomed.id);
    expect(deleteLabel.project.labels.map((label) => label.id)).not.toContain(doomed.id);
    for (const bug of bugs) {
      const { bug: after } = await server.current.ok(ops.BugLabels, { id: bug.id }, owner.token);
      expect(after.labels.map((label) => label.id)).toEqual([kept.id]);
    }
    expect(errorOf(await server.current.request(ops.Node, { id: doomed.id }, owner.token))).toEqual({
      code: 'NOT_FOUND',
    });
    const { bugs: carrying } = await server.current.ok(ops.Bugs, { filter: { labelIds: [doomed.id] } }, owner.token);
    expect(carrying.totalCount).toBe(0);
    const twice = await server.current.request(ops.DeleteLabel, { input: { labelId: doomed.id } }, member.token);
    expect(errorOf(twice)).toEqual({ code: 'NOT_FOUND', field: 'labelId' });
  });

  it('refuses labels of another project on a bug, and changes nothing', async () => {
    const own = await addLabel(server.current, member, projectId, unique('own'));
    const otherProject = (await createProject(server.current, member)).id;
    const foreign = await addLabel(server.current, member, otherProject, unique('foreign'));
    const bug = await createBug(server.current, owner, projectId);
    await setLabels(server.current, member, bug.id, [own.id]);

    const refused = await server.current.request(
      ops.SetBugLabels,
      { input: { bugId: bug.id, labelIds: [foreign.id] } },
      member.token,
    );
    expect(errorOf(refused)).toEqual({ code: 'BAD_USER_INPUT', field: 'labelIds' });
    const mixed = await server.current.request(
      ops.SetBugLabels,
      { input: { bugId: bug.id, labelIds: [own.id, missingId('Label')] } },
      member.token,
    );
    expect(errorOf(mixed)).toEqual({ code: 'BAD_USER_INPUT', field: 'labelIds' });
    const notALabel = await server.current.request(
      ops.SetBugLabels,
      { input: { bugId: bug.id, labelIds: [bug.id] } },
      member.token,
    );
    expect(errorOf(notALabel)?.code).toBe('BAD_USER_INPUT');

    const { bug: after } = await server.current.ok(ops.BugLabels, { id: bug.id }, member.token);
    expect(after.labels.map((label) => label.id)).toEqual([own.id]);
  });

  it("shows a bug's labels by name, ignoring case, and an empty list clears them", async () => {
    const prefix = unique('order');
    const made = [];
    for (const name of ['b', 'A', 'c', 'B2'])
      made.push(await addLabel(server.current, member, projectId, `${prefix}-${name}`));
    const bug = await createBug(server.current, owner, projectId);
    const labelled = await setLabels(
      server.current,
      member,
      bug.id,
      made.map((label) => label.id),
    );
    expect(labelled.labels.map((label) => label.name.slice(prefix.length + 1))).toEqual(['A', 'b', 'B2', 'c']);
    const { bug: read } = await server.current.ok(ops.BugLabels, { id: bug.id }, owner.token);
    expect(read.labels.map((label) => label.name.slice(prefix.length + 1))).toEqual(['A', 'b', 'B2', 'c']);

    expect((await setLabels(server.current, member, bug.id, [])).labels).toEqual([]);
  });

  it('filters bugs by label: any of the labels given', async () => {
    const fresh = (await createProject(server.current, owner, [member])).id;
    const [bugLabel, uiLabel, docsLabel] = [
      await addLabel(server.current, member, fresh, 'bug'),
      await addLabel(server.current, member, fresh, 'ui'),
      await addLabel(server.current, member, fresh, 'docs'),
    ];
    const onlyBug = await createBug(server.current, owner, fresh, { title: 'only bug' });
    const onlyUi = await createBug(server.current, owner, fresh, { title: 'only ui' });
    const both = await createBug(server.current, owner, fresh, { title: 'both' });
    await createBug(server.current, owner, fresh, { title: 'none' });
    await setLabels(server.current, member, onlyBug.id, [bugLabel.id]);
    await setLabels(server.current, member, onlyUi.id, [uiLabel.id]);
    await setLabels(server.current, member, both.id, [bugLabel.id, uiLabel.id]);

    const keys = async (labelIds: string[], user = member) => {
      const { bugs } = await server.current.ok(ops.Bugs, { filter: { labelIds } }, user.token);
      expect(bugs.totalCount).toBe(bugs.edges.length);
      return bugs.edges.map((edge) => edge.node.key).sort();
    };
    expect(await keys([bugLabel.id])).toEqual([onlyBug.key, both.key].sort());
    expect(await keys([bugLabel.id, uiLabel.id])).toEqual([onlyBug.key, onlyUi.key, both.key].sort());
    expect(await keys([docsLabel.id])).toEqual([]);
    // Someone outside the project sees none of its bugs, label or not.
    expect(await keys([bugLabel.id], outsider)).toEqual([]);

    // The same filter inside a project, beside the others.
    const { project } = await server.current.ok(
      ops.ProjectBugs,
      { id: fresh, filter: { labelIds: [uiLabel.id], search: 'only' } },
      member.token,
    );
    expect(project.bugs.totalCount).toBe(1);
    expect(project.bugs.edges.map((edge) => edge.node.key)).toEqual([onlyUi.key]);

    const malformed = await server.current.request(ops.Bugs, { filter: { labelIds: ['nope'] } }, member.token);
    expect(errorOf(malformed)).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.labelIds.0' });
  });

  // The races below overlap on PostgreSQL; the embedded database runs one transaction at a time.
  it('keeps names unique when members race to create the same label', async () => {
    const fresh = (await createProject(server.current, owner, [member])).id;
    const names = ['Flaky', 'flaky', 'FLAKY', 'Flaky', 'fLaKy', 'flaky'];
    const results = await Promise.all(
      names.map((name, i) =>
        server.current.request(
          ops.CreateLabel,
          { input: { projectId: fresh, name, color: '#00ff00' } },
          (i % 2 ? member : owner).token,
        ),
      ),
    );
    expect(results.filter((result) => result.errors === undefined)).toHaveLength(1);
    expect(results.filter((result) => result.errors !== undefined).map(errorOf)).toEqual(
      Array.from({ length: names.length - 1 }, () => ({ code: 'CONFLICT', field: 'name' })),
    );
    const { project } = await server.current.ok(ops.ProjectLabels, { id: fresh }, owner.token);
    expect(project.labels).toHaveLength(1);

    // Renaming two labels to the same name at once: one of them gets it.
    const [one, two] = [
      await addLabel(server.current, member, fresh, 'one'),
      await addLabel(server.current, member, fresh, 'two'),
    ];
    const renames = await Promise.all(
      [one, two].map((label, i) =>
        server.current.request(
          ops.UpdateLabel,
          { input: { labelId: label.id, name: i ? 'Same' : 'same' } },
          member.token,
        ),
      ),
    );
    expect(renames.map(errorOf).filter(Boolean)).toEqual([{ code: 'CONFLICT', field: 'name' }]);
  });

  it("gives racing setBugLabels one winner, and a history that adds up to the bug's labels", async () => {
    const made = [];
    for (const name of ['p', 'q', 'r', 's']) made.push(await addLabel(server.current, member, projectId, unique(name)));
    const ids = made.map((label) => label.id);
    const sets = [[ids[0]!], [ids[1]!], [ids[2]!, ids[3]!], [ids[0]!, ids[2]!], [ids[3]!], [ids[1]!, ids[2]!]];
    const bug = await createBug(server.current, owner, projectId);
    await Promise.all(sets.map((labelIds, i) => setLabels(server.current, i % 2 ? member : owner, bug.id, labelIds)));

    const { bug: final } = await server.current.ok(ops.BugLabels, { id: bug.id }, owner.token);
    const finalIds = final.labels.map((label) => label.id).sort();
    expect(sets.map((set) => [...set].sort())).toContainEqual(finalIds);
    // Each entry starts where the one before it ended, and the last ends where the bug is.
    const { bug: history } = await server.current.ok(ops.BugActivity, { id: bug.id }, owner.token);
    const changes = history.activity.edges.flatMap((edge) =>
      edge.node.changes.filter((change) => change.field === 'labels'),
    );
    expect(changes.length).toBeGreaterThan(0);
    changes.forEach((change, i) => expect(change.from).toBe(i === 0 ? null : changes[i - 1]!.to));
    expect(changes.at(-1)!.to).toBe(final.labels.map((label) => label.name).join(', '));
  });

  it('either puts a label on a bug or refuses it, while another member deletes that label', async () => {
    const bug = await createBug(server.current, owner, projectId);
    for (let round = 0; round < 10; round += 1) {
      const label = await addLabel(server.current, member, projectId, unique('fleeting'));
      const [set, deleted] = await Promise.all([
        server.current.request(ops.SetBugLabels, { input: { bugId: bug.id, labelIds: [label.id] } }, owner.token),
        server.current.request(ops.DeleteLabel, { input: { labelId: label.id } }, member.token),
      ]);
      expect(errorOf(deleted)).toBeUndefined();
      expect([undefined, { code: 'BAD_USER_INPUT', field: 'labelIds' }]).toContainEqual(errorOf(set));
      const { bug: after } = await server.current.ok(ops.BugLabels, { id: bug.id }, owner.token);
      expect(after.labels).toEqual([]);
    }
  });

  it('tells bugChanged subscribers of a label change once, as UPDATED with the labels before and after, and records it', async () => {
    const a = await addLabel(server.current, member, projectId, unique('a'));
    const b = await addLabel(server.current, member, projectId, unique('b'));
    const bug = await createBug(server.current, owner, projectId);
    const { eventCursor } = await server.current.ok(ops.EventCursor, {}, owner.token);
    const client = connect(server.current, owner);
    clients.push(client);
    const changes = subscribe(client, ops.OnBugChanges, { projectId, after: eventCursor });

    await setLabels(server.current, member, bug.id, [b.id, a.id]);
    await setLabels(server.current, member, bug.id, [a.id, b.id]); // the same labels: no change, no event
    await setLabels(server.current, member, bug.id, [b.id]);
    // The sentinel: a change after the repeat, which must be the second thing to arrive.
    await server.current.ok(ops.UpdateBug, { input: { bugId: bug.id, priority: 'LOW' } }, owner.token);

    expect((await changes.next()).bugChanged).toEqual({
      action: 'UPDATED',
      bug: { id: bug.id },
      changes: [{ field: 'labels', from: null, to: `${a.name}, ${b.name}` }],
    });
    expect((await changes.next()).bugChanged).toEqual({
      action: 'UPDATED',
      bug: { id: bug.id },
      changes: [{ field: 'labels', from: `${a.name}, ${b.name}`, to: b.name }],
    });
    expect((await changes.next()).bugChanged.changes).toEqual([{ field: 'priority', from: 'MEDIUM', to: 'LOW' }]);

    const { bug: history } = await server.current.ok(ops.BugActivity, { id: bug.id }, owner.token);
    const entries = history.activity.edges.map((edge) => edge.node);
    expect(entries.filter((entry) => entry.changes.some((change) => change.field === 'labels'))).toEqual([
      expect.objectContaining({
        kind: 'UPDATED',
        actor: { id: member.id, name: member.name },
        changes: [{ field: 'labels', from: null, to: `${a.name}, ${b.name}` }],
      }),
      expect.objectContaining({
        kind: 'UPDATED',
        actor: { id: member.id, name: member.name },
        changes: [{ field: 'labels', from: `${a.name}, ${b.name}`, to: b.name }],
      }),
    ]);
  });
});

describe('filtering by label at scale', () => {
  // No event poll and no response cache: every statement counted is the query's own.
  const server = useServer({ EVENT_POLL_MS: '600000', RESPONSE_CACHE: 'false' });
  let viewer: TestUser;
  let projectId: string;
  let common: string, rare: string;

  beforeAll(async () => {
    await signUp(server.current, 'admin');
    viewer = await signUp(server.current, 'viewer');
    projectId = (await createProject(server.current, viewer)).id;
    common = (await addLabel(server.current, viewer, projectId, 'common')).id;
    rare = (await addLabel(server.current, viewer, projectId, 'rare')).id;
    const labels = [uuidOf(common)];
    for (let i = 1; i < 20; i += 1)
      labels.push(uuidOf((await addLabel(server.current, viewer, projectId, `l${i}`)).id));
    // 20,000 bugs, each carrying one of 20 labels (the first being "common"); five also carry "rare".
    // Written in batches: the embedded database runs in this process, and one long statement would
    // hold up the event loop past the server's keep-alive timeout, under the next request's feet.
    // Each batch is marked as the API's own write, as src/events/outbox.ts marks its transactions,
    // so that the triggers for changes made outside the API do not log 20,000 events for them.
    // The values are our own uuids, inlined because a multi-statement script takes no parameters.
    const [project, reporter, rareId] = [uuidOf(projectId), uuidOf(viewer.id), uuidOf(rare)];
    const labelArray = `ARRAY[${labels.map((id) => `'${id}'`).join(', ')}]::uuid[]`;
    const BUGS = 20_000;
    const BATCH = 1_000;
    await server.current.app.db.withSession(async (session) => {
      for (let from = 1; from <= BUGS; from += BATCH) {
        const to = from + BATCH - 1;
        await session.exec(`
          BEGIN;
          SELECT set_config('bugzapp.origin', 'api', true);
          INSERT INTO "Bug" ("id", "projectId", "number", "title", "reporterId", "createdAt", "updatedAt")
          SELECT gen_random_uuid(), '${project}', g, 'bulk ' || g, '${reporter}', now() - g * interval '1 second', now()
          FROM generate_series(${from}, ${to}) AS g;
          INSERT INTO "BugLabel" ("bugId", "labelId")
          SELECT "id", (${labelArray})[1 + "number" % 20] FROM "Bug"
          WHERE "projectId" = '${project}' AND "number" BETWEEN ${from} AND ${to};
          COMMIT;`);
      }
      await session.exec(`
        BEGIN;
        SELECT set_config('bugzapp.origin', 'api', true);
        UPDATE "Project" SET "bugCount" = ${BUGS} WHERE "id" = '${project}';
        INSERT INTO "BugLabel" ("bugId", "labelId")
        SELECT "id", '${rareId}' FROM "Bug" WHERE "projectId" = '${project}' AND "number" % 4000 = 7;
        COMMIT;
        ANALYZE;`);
    });
  }, 120_000);

  it('loads a page of bugs filtered by label, with their labels, in one statement (no N+1)', async () => {
    const page = (first: number) =>
      recordSql(server.current, () =>
        server.current.ok(ops.BugsWithLabels, { first, filter: { labelIds: [common, rare] } }, viewer.token),
      );
    const forTwo = await page(2);
    const forTwenty = await page(20);
    expect(forTwo).toHaveLength(1);
    expect(forTwenty).toHaveLength(1);
    const { bugs } = await server.current.ok(
      ops.BugsWithLabels,
      { first: 20, filter: { labelIds: [rare] } },
      viewer.token,
    );
    expect(bugs.edges).toHaveLength(5);
    expect(bugs.edges.every((edge) => edge.node.labels.some((label) => label.name === 'rare'))).toBe(true);
  });

  it('finds the bugs carrying a label through BugLabel_labelId_idx', async () => {
    // The statement Prisma runs for the page, with its parameters, as PostgreSQL would plan it. The
    // app's client logs queries as events (src/infra/db.ts), which its declared type does not say.
    type QueryLog = { $on(event: 'query', listener: (event: { query: string; params: string }) => void): void };
    const statements: { query: string; params: unknown[] }[] = [];
    (server.current.app.db.prisma as unknown as QueryLog).$on('query', (event) => {
      statements.push({ query: event.query, params: JSON.parse(event.params) as unknown[] });
    });
    const { bugs } = await server.current.ok(
      ops.BugsWithLabels,
      { first: 20, filter: { labelIds: [rare] } },
      viewer.token,
    );
    expect(bugs.edges).toHaveLength(5);
    const page = statements.find((statement) => /FROM "public"."BugLabel"/.test(statement.query));
    expect(page).toBeDefined();
    const plan = await server.current.app.db.withSession((session) =>
      session.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${page!.query}`, page!.params),
    );
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toMatch(/(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) "?BugLabel_labelId_idx"?/);
  });
});
