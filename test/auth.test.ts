import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import * as ops from './operations';
import { errorOf, PASSWORD, signUp, unique, missingId } from './helpers/fixtures';
import { useServer } from './helpers/server';

describe('signing up and logging in', () => {
  const server = useServer();

  it('makes the first account in an empty database an ADMIN and every later one a MEMBER', async () => {
    const first = await server.current.ok(ops.SignUp, {
      input: { email: 'first@example.com', name: 'First', password: PASSWORD },
    });
    const second = await server.current.ok(ops.SignUp, {
      input: { email: 'second@example.com', name: 'Second', password: PASSWORD },
    });
    expect(first.signUp.user.role).toBe('ADMIN');
    expect(second.signUp.user.role).toBe('MEMBER');
    expect(second.signUp.user.status).toBe('OFFLINE');
  });

  it('treats emails case-insensitively: a differently-cased address is taken, and logs in', async () => {
    const email = `${unique('Case')}@Example.COM`;
    await server.current.ok(ops.SignUp, { input: { email, name: 'Case', password: PASSWORD } });

    const again = await server.current.request(ops.SignUp, {
      input: { email: email.toLowerCase(), name: 'Other', password: PASSWORD },
    });
    expect(errorOf(again)).toEqual({ code: 'CONFLICT', field: 'email' });

    const login = await server.current.ok(ops.LogIn, { input: { email: email.toUpperCase(), password: PASSWORD } });
    expect(login.logIn.user.email).toBe(email.toLowerCase());
    const me = await server.current.ok(ops.Me, {}, login.logIn.token);
    expect(me.me?.email).toBe(email.toLowerCase());
  });

  it('rejects short passwords, invalid emails and empty names, creating nothing', async () => {
    const email = `${unique('bad')}@example.com`;
    const short = await server.current.request(ops.SignUp, { input: { email, name: 'Bad', password: 'short' } });
    expect(errorOf(short)).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    const invalid = await server.current.request(ops.SignUp, {
      input: { email: 'not-an-email', name: 'Bad', password: PASSWORD },
    });
    expect(errorOf(invalid)).toEqual({ code: 'BAD_USER_INPUT', field: 'email' });
    const blank = await server.current.request(ops.SignUp, { input: { email, name: '   ', password: PASSWORD } });
    expect(errorOf(blank)).toEqual({ code: 'BAD_USER_INPUT', field: 'name' });

    const login = await server.current.request(ops.LogIn, { input: { email, password: 'short' } });
    expect(errorOf(login)).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('answers a wrong password and an unknown email with the same UNAUTHENTICATED error', async () => {
    const user = await signUp(server.current, 'login');
    const wrongPassword = await server.current.request(ops.LogIn, {
      input: { email: user.email, password: 'not-the-password' },
    });
    const unknownEmail = await server.current.request(ops.LogIn, {
      input: { email: `${unique('nobody')}@example.com`, password: PASSWORD },
    });
    expect(errorOf(wrongPassword)).toEqual({ code: 'UNAUTHENTICATED' });
    expect(unknownEmail.errors).toEqual(wrongPassword.errors);
    expect(wrongPassword.data).toBeNull();
  });

  it('never exposes a password or its hash in the schema', async () => {
    const result = await fetch(server.current.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __type(name: "User") { fields { name } } }' }),
    });
    const { data } = (await result.json()) as { data: { __type: { fields: { name: string }[] } } };
    const names = data.__type.fields.map((field) => field.name);
    expect(names).toContain('email');
    expect(names.filter((name) => /password/i.test(name))).toEqual([]);
  });
});

describe('tokens', () => {
  const server = useServer();

  it('returns null for me without a token, and the user with one', async () => {
    expect(await server.current.ok(ops.Me)).toEqual({ me: null });
    const user = await signUp(server.current, 'me');
    const { me } = await server.current.ok(ops.Me, {}, user.token);
    expect(me).toMatchObject({ id: user.id, email: user.email, name: user.name });
  });

  it('answers UNAUTHENTICATED on every other root field without a token', async () => {
    const fields = [
      '{ users { totalCount } }',
      '{ projects { totalCount } }',
      '{ bugs { totalCount } }',
      '{ project(id: "not-even-an-id") { id } }',
      '{ bug(id: "not-even-an-id") { id } }',
      '{ node(id: "not-even-an-id") { id } }',
      'mutation { createProject(input: { key: "ABC", name: "x" }) { project { id } } }',
      'mutation { createBug(input: { projectId: "UHJvamVjdDow", title: "x" }) { bug { id } } }',
      'mutation { addComment(input: { bugId: "QnVnOjA=", body: "x" }) { comment { id } } }',
      'mutation { updateUserStatus(input: { userId: "VXNlcjow", status: ONLINE }) { user { id } } }',
      'mutation { updateProject(input: { projectId: "x", name: "x" }) { project { id } } }',
      'mutation { addProjectMember(input: { projectId: "x", userId: "x" }) { project { id } } }',
      'mutation { removeProjectMember(input: { projectId: "x", userId: "x" }) { project { id } } }',
      'mutation { updateBug(input: { bugId: "x", title: "x" }) { bug { id } } }',
      'mutation { updateBugStatus(input: { bugId: "x", status: CLOSED }) { bug { id } } }',
      'mutation { assignBug(input: { bugId: "x", assigneeId: null }) { bug { id } } }',
    ];
    for (const query of fields) {
      const response = await fetch(server.current.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      const body = (await response.json()) as { errors?: { extensions: { code: string } }[] };
      expect({ query, code: body.errors?.[0]?.extensions.code }).toEqual({ query, code: 'UNAUTHENTICATED' });
    }
  });

  it('rejects a tampered, foreign, expired or unsigned token with UNAUTHENTICATED, even for me', async () => {
    const user = await signUp(server.current, 'tokens');
    const [header, payload] = user.token.split('.');
    const claims = jwt.decode(user.token) as jwt.JwtPayload;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'ADMIN' })).toString('base64url')}.${user.token.split('.')[2]}`;
    const foreign = jwt.sign({ role: claims.role as string }, 'some-other-secret-that-is-long-enough-to-use', {
      subject: user.id,
      issuer: claims.iss,
      audience: claims.aud,
    });
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, 'irrelevant');
    // Signed with the server's own secret but never expiring: still refused.
    const secret = fs.readFileSync(path.join(server.current.dataDir, 'jwt-secret'), 'utf8').trim();
    const { exp: _exp, ...withoutExpiry } = claims;
    const immortal = jwt.sign(withoutExpiry, secret, { algorithm: 'HS256' });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;

    for (const token of [tampered, foreign, expired, unsigned, immortal, 'garbage']) {
      const result = await server.current.request(ops.Me, {}, token);
      expect(errorOf(result)).toEqual({ code: 'UNAUTHENTICATED' });
    }
  });
});

describe('user status', () => {
  const server = useServer();

  it("lets users set their own status, admins anyone's, and forbids the rest", async () => {
    const admin = await signUp(server.current, 'admin'); // the first account in this suite's database
    const alice = await signUp(server.current, 'alice');
    const bob = await signUp(server.current, 'bob');

    const own = await server.current.ok(
      ops.UpdateUserStatus,
      { input: { userId: alice.id, status: 'BUSY' } },
      alice.token,
    );
    expect(own.updateUserStatus.user.status).toBe('BUSY');

    const other = await server.current.request(
      ops.UpdateUserStatus,
      { input: { userId: alice.id, status: 'AWAY' } },
      bob.token,
    );
    expect(errorOf(other)).toEqual({ code: 'FORBIDDEN' });
    expect((await server.current.ok(ops.Me, {}, alice.token)).me?.status).toBe('BUSY');

    const malformed = await server.current.request(
      ops.UpdateUserStatus,
      { input: { userId: 'x', status: 'AWAY' } },
      admin.token,
    );
    expect(errorOf(malformed)).toEqual({ code: 'BAD_USER_INPUT', field: 'userId' });
    const nobody = missingId('User');
    const unknown = await server.current.request(
      ops.UpdateUserStatus,
      { input: { userId: nobody, status: 'AWAY' } },
      admin.token,
    );
    expect(errorOf(unknown)).toEqual({ code: 'NOT_FOUND', field: 'userId' });

    const byAdmin = await server.current.ok(
      ops.UpdateUserStatus,
      { input: { userId: bob.id, status: 'ONLINE' } },
      admin.token,
    );
    expect(byAdmin.updateUserStatus.user).toEqual({ id: bob.id, status: 'ONLINE' });
  });
});
