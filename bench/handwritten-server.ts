// The baseline of the query-path benchmark (bench/queries.ts): what a careful hand-written Node
// server would do to answer BugZapp's two benchmark operations, and nothing more. node:http and
// `pg`, no GraphQL: it knows the two documents of bench/queries-documents.ts by their exact text,
// verifies the bearer token as BugZapp does (jsonwebtoken, HS256, issuer and audience, the same
// JWT_SECRET), and answers each with ONE SQL statement that checks the user and their membership
// and builds the whole `data` tree with json_build_object/json_agg, in the field order, page sizes
// and orderings BugZapp uses, so both servers' bodies are byte-identical (the benchmark checks).
//
//   DATABASE_URL=postgresql://... JWT_SECRET=... PORT=0 node --import tsx bench/handwritten-server.ts
//
// It prints `listening on http://localhost:<port>/graphql` once it listens and stops on SIGTERM.
import { createSecretKey } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { BUG, ME, SCREEN } from './queries-documents';

const MAX_BODY_BYTES = 1024 * 1024;
// What src/server/auth.ts signs tokens with and checks them against.
const ISSUER = 'bugzapp';
const AUDIENCE = 'bugzapp-api';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

// Who may read a bug, as src/modules/project/access.ts says it: an admin, or a member of its project.
const VIEWER = /* SQL */ `viewer AS (SELECT "id", "role" FROM "User" WHERE "id" = $1::uuid)`;
const READABLE = /* SQL */ `EXISTS (
  SELECT 1 FROM viewer v
  WHERE v."role" = 'ADMIN'
     OR EXISTS (SELECT 1 FROM "ProjectMember" m WHERE m."projectId" = b."projectId" AND m."userId" = v."id"))`;
const person = (alias: string) => /* SQL */ `json_build_object('name', ${alias}."name")`;
const assignee = /* SQL */ `CASE WHEN a."id" IS NULL THEN NULL ELSE ${person('a')} END`;
/** A bug's first `first` comments, oldest first (ties by id), as BugZapp's `comments` connection orders them. */
const comments = (first: number, fields: string) => /* SQL */ `json_build_object('edges', (
  SELECT COALESCE(json_agg(json_build_object('node', json_build_object(${fields})) ORDER BY c."createdAt", c."id"), '[]')
  FROM (SELECT * FROM "Comment" WHERE "bugId" = b."id" ORDER BY "createdAt", "id" LIMIT ${first}) c
  JOIN "User" u ON u."id" = c."authorId"))`;
const PEOPLE = /* SQL */ `JOIN "Project" p ON p."id" = b."projectId"
  JOIN "User" r ON r."id" = b."reporterId"
  LEFT JOIN "User" a ON a."id" = b."assigneeId"`;

/** SCREEN: the viewer's newest 20 readable bugs (createdAt, then id, descending, as `bugs` orders them). */
const SCREEN_SQL = /* SQL */ `
WITH ${VIEWER},
page AS (
  SELECT b.* FROM "Bug" b WHERE ${READABLE}
  ORDER BY b."createdAt" DESC, b."id" DESC LIMIT 20
)
SELECT (SELECT "role" FROM viewer) AS "role",
  json_build_object('bugs', json_build_object('edges', COALESCE(json_agg(json_build_object('node', json_build_object(
    'key', p."key" || '-' || b."number",
    'title', b."title",
    'status', b."status",
    'project', json_build_object('name', p."name"),
    'reporter', ${person('r')},
    'assignee', ${assignee},
    'comments', ${comments(5, `'body', c."body", 'author', ${person('u')}`)}
  )) ORDER BY b."createdAt" DESC, b."id" DESC), '[]'))) AS "data"
FROM page b ${PEOPLE}`;

/** BUG: one readable bug; `data` is null when there is none. DateTime as graphql-scalars writes it (toISOString). */
const BUG_SQL = /* SQL */ `
WITH ${VIEWER}
SELECT (SELECT "role" FROM viewer) AS "role", (
  SELECT json_build_object('bug', json_build_object(
    'key', p."key" || '-' || b."number",
    'title', b."title",
    'description', b."description",
    'status', b."status",
    'priority', b."priority",
    'project', json_build_object('key', p."key", 'name', p."name"),
    'reporter', ${person('r')},
    'assignee', ${assignee},
    'comments', ${comments(
      20,
      `'body', c."body",
      'createdAt', to_char(c."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'author', ${person('u')}`,
    )}))
  FROM "Bug" b ${PEOPLE}
  WHERE b."id" = $2::uuid AND ${READABLE}
) AS "data"`;

/** ME: the viewer's own name; no row (an account deleted since) is an unauthenticated token. */
const ME_SQL = /* SQL */ `
SELECT "role", json_build_object('me', json_build_object('name', "name")) AS "data" FROM "User" WHERE "id" = $1::uuid`;

class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The database id in a global ID (base64 of `Type:uuid`), as src/graphql/ids.ts reads them. */
function bugId(variables: unknown): string {
  const globalId = (variables as { id?: unknown } | null)?.id;
  const decoded = typeof globalId === 'string' ? Buffer.from(globalId, 'base64').toString('utf8') : '';
  const id = decoded.slice('Bug:'.length);
  if (!decoded.startsWith('Bug:') || !UUID.test(id)) throw new RequestError(200, 'BAD_USER_INPUT', 'Not a bug ID.');
  return id;
}

/** Each known document: its prepared statement, and its parameters after the viewer's id. */
const OPERATIONS = new Map<string, { name: string; text: string; params: (variables: unknown) => string[] }>([
  [SCREEN, { name: 'bench-screen', text: SCREEN_SQL, params: () => [] }],
  [BUG, { name: 'bench-bug', text: BUG_SQL, params: (variables) => [bugId(variables)] }],
  [ME, { name: 'bench-me', text: ME_SQL, params: () => [] }],
]);

function main(): void {
  const { DATABASE_URL, JWT_SECRET, PORT } = process.env;
  if (DATABASE_URL === undefined || JWT_SECRET === undefined) throw new Error('Set DATABASE_URL and JWT_SECRET.');
  // A KeyObject, as BugZapp's TokenService makes: given a string, jsonwebtoken tries it as a public key first.
  const secret = createSecretKey(Buffer.from(JWT_SECRET, 'utf8'));
  // pg's default pool (10 connections), as BugZapp's PrismaPg adapter gets.
  const pool = new pg.Pool({ connectionString: DATABASE_URL });
  pool.on('error', (error) => console.error('PostgreSQL pool error:', error.message));

  const viewerId = (authorization: string | undefined): string => {
    const [scheme, token] = (authorization ?? '').split(' ');
    try {
      if (scheme?.toLowerCase() !== 'bearer' || token === undefined) throw new Error('no bearer token');
      const payload = jwt.verify(token, secret, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
      if (typeof payload === 'string' || typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
        throw new Error('no subject');
      }
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') throw new Error('no iat or exp');
      if (payload.role !== 'ADMIN' && payload.role !== 'MEMBER') throw new Error('no role');
      return payload.sub;
    } catch {
      throw new RequestError(401, 'UNAUTHENTICATED', 'The access token is invalid or has expired; sign in again.');
    }
  };

  const answer = async (request: http.IncomingMessage, body: string): Promise<string> => {
    let parsed: { query?: unknown; variables?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new RequestError(400, 'BAD_REQUEST', 'Send a JSON body.');
    }
    const operation = typeof parsed.query === 'string' ? OPERATIONS.get(parsed.query) : undefined;
    if (operation === undefined) throw new RequestError(400, 'BAD_REQUEST', 'This server knows three documents only.');
    const viewer = viewerId(request.headers.authorization);
    const values = [viewer, ...operation.params(parsed.variables)];
    // A named statement: each connection plans it once. pg parses the json column, and
    // JSON.stringify writes it back compact, as yoga does.
    const { rows } = await pool.query<{ role: string | null; data: unknown }>({
      name: operation.name,
      text: operation.text,
      values,
    });
    const row = rows[0];
    if (row?.role == null) {
      throw new RequestError(401, 'UNAUTHENTICATED', 'The access token is for an account that no longer exists.');
    }
    if (row.data === null) throw new RequestError(200, 'NOT_FOUND', 'Bug not found.');
    return `{"data":${JSON.stringify(row.data)}}`;
  };

  const send = (response: http.ServerResponse, status: number, body: string) => {
    response.writeHead(status, { ...HEADERS, 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  };

  const server = http.createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/graphql') {
      send(response, 404, JSON.stringify({ errors: [{ message: 'POST /graphql only.' }] }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) request.destroy();
      else chunks.push(chunk);
    });
    request.on('end', () => {
      answer(request, Buffer.concat(chunks, size).toString('utf8')).then(
        (body) => send(response, 200, body),
        (error: unknown) => {
          if (!(error instanceof RequestError)) console.error(error);
          const { status, code, message } =
            error instanceof RequestError ? error : new RequestError(500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.');
          send(response, status, JSON.stringify({ errors: [{ message, extensions: { code } }], data: null }));
        },
      );
    });
  });

  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void pool.end().then(() => process.exit(0));
  });
  server.listen(Number(PORT ?? 0), () => {
    const { port } = server.address() as AddressInfo;
    console.log(`Hand-written server listening on http://localhost:${port}/graphql`);
  });
}

main();
