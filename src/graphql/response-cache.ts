import type { Plugin } from '@envelop/core';
import {
  getOperationAST,
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { StoredEvent } from '../events/event';
import type { EventFeed } from '../events/feed';
import type { Context } from '../server/context';

/**
 * The extension of a root query field whose answer changes without an event (the newest cursor,
 * the user directory, which grows with every sign-up): an operation that selects it is never
 * answered from the cache.
 */
export const NOT_CACHED = { responseCache: false } as const;

/** Answers kept at most; the least recently used go first. */
const MAX_ENTRIES = 10_000;

interface Entry {
  result: ExecutionResult;
  viewerId: string;
  admin: boolean;
}

/**
 * Answers to queries, per viewer, kept until an event may have changed them.
 *
 * An answer is for one viewer (every root field depends on who asks), so an event drops the
 * answers of the viewers it may concern: the members of its project and the users it names (its
 * routes, see modules/realtime/audience.ts), and every admin's for an event in any project. A
 * status change, or an event whose routes could not be worked out, drops everything. Events are
 * those of every instance (the feed), so with Redis or the table poll every instance forgets what
 * any write changed.
 *
 * Never stale after a write: an answer is kept only if no event arrived while it was computed,
 * and is served only once every event this instance has appended has dropped what it changed;
 * when the database is shared with other instances, a hit first checks the table for events this
 * instance has not seen yet (one indexed read, shared by the hits that wait for it: see
 * EventFeed.catchUp), so a client that wrote through another instance reads its own write here too.
 */
export class ResponseCache {
  readonly #entries = new Map<string, Entry>();
  readonly #byViewer = new Map<string, Set<string>>();
  readonly #admins = new Set<string>();

  constructor(
    private readonly feed: EventFeed,
    /** Other instances write to the same database. */
    private readonly shared: boolean,
  ) {
    feed.onEvent((event, routes) => this.#forget(event, routes));
  }

  /** The newest event taken into account: an answer computed while it moved may be stale. */
  get position(): bigint {
    return this.feed.head;
  }

  /** The answer kept for `key`, once every event known to have happened has been taken into account. */
  async get(key: string): Promise<ExecutionResult | undefined> {
    // A miss costs nothing; only an answer about to be served is checked.
    if (!this.#entries.has(key)) return undefined;
    if (this.shared) await this.feed.catchUp();
    await this.feed.settled();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry); // the most recently used, last
    return entry.result;
  }

  set(key: string, entry: Entry): void {
    this.#drop(key);
    this.#entries.set(key, entry);
    let keys = this.#byViewer.get(entry.viewerId);
    if (keys === undefined) this.#byViewer.set(entry.viewerId, (keys = new Set()));
    keys.add(key);
    if (entry.admin) this.#admins.add(key);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= MAX_ENTRIES) break;
      this.#drop(oldest);
    }
  }

  #forget(event: StoredEvent, routes: ReadonlySet<string> | undefined): void {
    if (routes === undefined || event.type === 'USER_STATUS_CHANGED') {
      this.#entries.clear();
      this.#byViewer.clear();
      this.#admins.clear();
      return;
    }
    for (const route of routes) {
      const [kind, userId] = route.split(':');
      if ((kind === 'member' || kind === 'user') && userId !== undefined) {
        for (const key of this.#byViewer.get(userId) ?? []) this.#drop(key);
      }
    }
    if (event.projectId !== null) for (const key of this.#admins) this.#drop(key);
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#admins.delete(key);
    const keys = this.#byViewer.get(entry.viewerId);
    keys?.delete(key);
    if (keys?.size === 0) this.#byViewer.delete(entry.viewerId);
  }
}

/**
 * Answers a signed-in viewer's query from the cache when it holds the answer for the same
 * document, operation and variables, and keeps each answer without errors for next time. Runs
 * after the operation's limits, rate limit and validation, like any execution.
 */
export function useResponseCache(cache: ResponseCache): Plugin<Context> {
  const documentIds = new WeakMap<DocumentNode, number>();
  let documents = 0;
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const { schema, document, operationName, variableValues, contextValue } = args as ExecutionArgs & {
        contextValue: Context;
      };
      const viewer = contextValue.viewer;
      if (viewer == null) return;
      const operation = getOperationAST(document, operationName);
      if (operation?.operation !== OperationTypeNode.QUERY || !cacheable(schema, document, operation)) return;

      let documentId = documentIds.get(document);
      if (documentId === undefined) documentIds.set(document, (documentId = ++documents));
      const key = JSON.stringify([viewer.id, documentId, operationName ?? null, variableValues ?? {}]);
      const hit = await cache.get(key);
      if (hit !== undefined) {
        setResultAndStopExecution(hit);
        return;
      }
      const position = cache.position;
      return {
        onExecuteDone: ({ result }) => {
          const single = result as ExecutionResult;
          // Computed while an event arrived: it may hold the state before it, so it is not kept.
          if (cache.position !== position || single.errors !== undefined || !('data' in single)) return;
          cache.set(key, { result: single, viewerId: viewer.id, admin: viewer.role === 'ADMIN' });
        },
      };
    },
  };
}

const cacheableOperations = new WeakMap<OperationDefinitionNode, boolean>();

/** No root field the operation selects (through fragments too) is marked NOT_CACHED. */
function cacheable(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  let known = cacheableOperations.get(operation);
  if (known !== undefined) return known;
  const root = schema.getQueryType();
  const fragments = new Map(
    document.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const seen = new Set<string>();
  const allowed = (selectionSet: SelectionSetNode): boolean =>
    selectionSet.selections.every((selection) => {
      switch (selection.kind) {
        case Kind.FIELD: {
          const field = root?.getFields()[selection.name.value];
          return field?.extensions.responseCache !== false;
        }
        case Kind.INLINE_FRAGMENT:
          return allowed(selection.selectionSet);
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (seen.has(name)) return true;
          seen.add(name);
          const fragment = fragments.get(name);
          return fragment !== undefined && allowed(fragment.selectionSet);
        }
      }
    });
  known = root != null && allowed(operation.selectionSet);
  cacheableOperations.set(operation, known);
  return known;
}
