import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from './server';
import type { TestUser } from './fixtures';
import { EventCursor } from '../operations';

/** The WebSocket address of a test server's /graphql. */
export const wsUrl = (server: TestServer) => server.url.replace(/^http/, 'ws');

/** A graphql-ws client signed in as `user`, connecting on first use and never retrying. */
export function connect(
  server: TestServer,
  user: TestUser | undefined,
  connectionParams?: Record<string, unknown>,
): Client {
  return createClient({
    url: wsUrl(server),
    webSocketImpl: WebSocket,
    connectionParams: connectionParams ?? (user === undefined ? {} : { authorization: `Bearer ${user.token}` }),
    retryAttempts: 0,
    lazy: true,
    lazyCloseTimeout: 0,
  });
}

type Item<Data> =
  | { kind: 'next'; data: Data | null | undefined; errors: readonly GraphQLFormattedError[] | undefined }
  | { kind: 'error'; error: unknown }
  | { kind: 'complete' };

const WAIT_MS = 10_000;

/**
 * One subscription's results, in arrival order, for a test to take one at a time. Ordering is
 * how tests prove absence: a sentinel event the subscriber must receive, sent after the one it
 * must not, arrives first.
 */
export class Subscription<Data> {
  readonly #items: Item<Data>[] = [];
  readonly #waiters: ((item: Item<Data>) => void)[] = [];
  readonly #unsubscribe: () => void;

  constructor(client: Client, query: string, variables: unknown) {
    this.#unsubscribe = client.subscribe<Data>(
      { query, variables: variables as Record<string, unknown> },
      {
        next: (result) => this.#push({ kind: 'next', data: result.data, errors: result.errors }),
        error: (error) => this.#push({ kind: 'error', error }),
        complete: () => this.#push({ kind: 'complete' }),
      },
    );
  }

  #push(item: Item<Data>): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#items.push(item);
    else waiter(item);
  }

  /** The next thing the server sent: an event, an error, or the end. */
  item(): Promise<Item<Data>> {
    const queued = this.#items.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`Nothing arrived within ${WAIT_MS} ms`));
      }, WAIT_MS);
      const waiter = (item: Item<Data>) => {
        clearTimeout(timer);
        resolve(item);
      };
      this.#waiters.push(waiter);
    });
  }

  /** The next event's data; fails the test on an error or the end of the stream. */
  async next(): Promise<Data> {
    const item = await this.item();
    if (item.kind === 'next' && item.errors === undefined && item.data != null) return item.data;
    throw new Error(`Expected an event, got ${describe(item)}`);
  }

  /** The error the subscription ended with, as GraphQL errors, whichever way the server sent it. */
  async errors(): Promise<readonly GraphQLFormattedError[]> {
    const item = await this.item();
    if (item.kind === 'next' && item.errors !== undefined) return item.errors;
    if (item.kind === 'error' && Array.isArray(item.error)) return item.error as GraphQLFormattedError[];
    throw new Error(`Expected errors, got ${describe(item)}`);
  }

  /** Nothing received and not yet taken. */
  get pending(): number {
    return this.#items.length;
  }

  close(): void {
    this.#unsubscribe();
  }
}

function describe(item: Item<unknown>): string {
  if (item.kind === 'error') {
    const error = item.error as { code?: number; reason?: string; message?: string };
    return `a failure (${error.code ?? ''} ${error.reason ?? error.message ?? JSON.stringify(item.error)})`;
  }
  return JSON.stringify(item);
}

export function subscribe<Data, Variables>(
  client: Client,
  document: TypedDocumentNode<Data, Variables>,
  variables?: Variables,
): Subscription<Data> {
  return new Subscription<Data>(client, print(document), variables ?? {});
}

/** The code the server closed the socket with, when it refuses the connection. */
export function closeCode(client: Client): Promise<number> {
  return new Promise((resolve, reject) => {
    client.on('closed', (event) => resolve((event as CloseEvent).code));
    client.on('error', (error) => reject(error as Error));
  });
}

/**
 * Subscribes as `user` from the current end of the event log, so nothing sent after this call can
 * be missed: on `client`, else on a socket of its own. Sockets opened here join `clients`, for the
 * suite to dispose of.
 */
export async function listenFromNow<Data, Variables>(
  server: TestServer,
  clients: Client[],
  user: TestUser,
  document: TypedDocumentNode<Data, Variables>,
  variables: Omit<Variables, 'after'> = {} as Variables,
  client: Client = connect(server, user),
): Promise<Subscription<Data>> {
  const { eventCursor } = await server.ok(EventCursor, {}, user.token);
  if (!clients.includes(client)) clients.push(client);
  return subscribe(client, document, { ...variables, after: eventCursor } as Variables);
}
