import { PassThrough } from 'node:stream';
import { createLogger } from '../src/infra/log';
import * as ops from './operations';
import { errorOf, PASSWORD, unique } from './helpers/fixtures';
import { useServer } from './helpers/server';

const html = (url: string) => fetch(url, { headers: { accept: 'text/html' } });

describe('GraphiQL', () => {
  const enabled = useServer({ GRAPHIQL: 'true' });
  const disabled = useServer({ GRAPHIQL: 'false' });

  it('is served on /graphql, self-contained, with the example operations when enabled', async () => {
    const response = await html(enabled.current.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const page = await response.text();
    expect(page).toContain('BugZapp');
    expect(page).toContain('mutation SignUp');
    // Everything it runs comes with the page, so it works on a machine without internet access.
    expect(page.match(/<script[^>]*\bsrc=/g)).toBeNull();
    expect(page).not.toMatch(/<link[^>]*href="https?:/);
  });

  it('is not served when switched off', async () => {
    const response = await html(disabled.current.url);
    expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
    expect(await response.text()).not.toContain('graphiql');
  });
});

describe('a newcomer on an empty server', () => {
  const server = useServer();

  it('signs up, creates a project, adds a teammate, files, assigns, discusses and closes a bug', async () => {
    const s = server.current;
    const { signUp: ada } = await s.ok(ops.SignUp, {
      input: { email: 'ada@example.com', name: 'Ada', password: PASSWORD },
    });
    expect(ada.user.role).toBe('ADMIN');
    const { signUp: bob } = await s.ok(ops.SignUp, {
      input: { email: 'bob@example.com', name: 'Bob', password: PASSWORD },
    });

    const { createProject } = await s.ok(ops.CreateProject, { input: { key: 'WEB', name: 'Web' } }, ada.token);
    const projectId = createProject.project.id;
    await s.ok(ops.AddProjectMember, { input: { projectId, userId: bob.user.id } }, ada.token);
    const { createBug } = await s.ok(ops.CreateBug, { input: { projectId, title: 'Login is broken' } }, ada.token);
    const bugId = createBug.bug.id;
    expect(createBug.bug.key).toBe('WEB-1');

    await s.ok(ops.AssignBug, { input: { bugId, assigneeId: bob.user.id } }, ada.token);
    await s.ok(ops.AddComment, { input: { bugId, body: 'On it.' } }, bob.token);
    for (const status of ['IN_PROGRESS', 'RESOLVED', 'CLOSED'] as const) {
      await s.ok(ops.UpdateBugStatus, { input: { bugId, status } }, bob.token);
    }

    const { bug } = await s.ok(ops.Bug, { id: bugId }, bob.token);
    expect(bug).toMatchObject({
      key: 'WEB-1',
      status: 'CLOSED',
      assignee: { id: bob.user.id },
      reporter: { id: ada.user.id },
    });
    expect(bug.closedAt).not.toBeNull();
    expect(bug.comments.edges.map((edge) => edge.node.body)).toEqual(['On it.']);
  });
});

describe('an unexpected failure', () => {
  const logLines = new PassThrough();
  const server = useServer({}, { log: createLogger({ level: 'trace', pretty: false }, logLines) });

  it('is masked as INTERNAL_SERVER_ERROR, logged on the server, and tells the client nothing more', async () => {
    let logged = '';
    logLines.on('data', (chunk: Buffer) => (logged += chunk.toString('utf8')));
    await server.current.app.db.close(); // the database goes away under a running server
    const result = await server.current.request(ops.LogIn, {
      input: { email: `${unique('gone')}@example.com`, password: PASSWORD },
    });
    expect(errorOf(result)).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(result.errors?.[0]?.message).toBe('Unexpected error.');
    expect(JSON.stringify(result)).not.toMatch(/prisma|pglite|postgres|stack/i);
    expect(logged).toContain('"msg":"Unexpected error"');
    // The log says what failed, never the password the client sent.
    expect(logged).not.toContain(PASSWORD);
  });
});
