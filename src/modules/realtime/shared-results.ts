import { isAsyncIterable, type Plugin } from '@envelop/core';
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import type { StoredEvent } from '../../events/event';
import { deliversDirectly } from '../../events/feed';
import { recentMemo } from '../../events/recent-memo';
import { pacer } from '../../events/pacer';
import { maskError } from '../../graphql/errors';
import { maskResult, type MaskingLog } from '../../graphql/masking';
import { dependsOnViewer } from '../../graphql/viewer';
import type { Context } from '../../server/context';

/**
 * How many of the newest events keep their results. Subscribers deliver an event within moments of
 * each other; one that lags further behind computes its own, which is only slower.
 */
const EVENTS_KEPT = 64;

/** The event each shared result was computed for, so that whoever sends one can tell (see eventOf). */
const resultEvents = new WeakMap<ExecutionResult, StoredEvent>();

/** The event a subscription result was computed for; undefined for any other result (a query's). */
export function eventOf(result: ExecutionResult): StoredEvent | undefined {
  return resultEvents.get(result);
}

/**
 * Told when a subscription's stream starts, with its arguments; the function it returns is called
 * once when the stream ends, however it ends (the client's `complete`, a closed socket, an error).
 */
export type StreamObserver = (args: ExecutionArgs) => () => void;

/**
 * Subscriptions compute each event's result once per group of subscribers that must receive the
 * same thing, instead of once per subscriber: the same document, operation and variables, and the
 * same viewer unless nothing the document selects depends on the viewer (see graphql/viewer.ts).
 * Who receives an event at all is still decided per subscriber (the subscription's own filter,
 * at delivery), so a shared result only ever reaches subscribers allowed to see the event, and a
 * personal selection is never shared between two viewers.
 *
 * Each result's errors are masked here, once, and so is the error a stream fails with (see
 * useErrorMasking).
 *
 * It replaces graphql-js's subscribe, which does the same but executes for every subscriber:
 * create the source stream, then execute the selection with each event as the root value. Being
 * where every stream starts and ends, it also tells `observe` (metrics) of both, at no cost per event.
 */
export function useSharedSubscriptionResults(log: MaskingLog, observe?: StreamObserver): Plugin<Context> {
  // By position: every copy of an event (read from memory, or from the table by a replay) shares.
  const resultFor = recentMemo<bigint, Promise<ExecutionResult>>(EVENTS_KEPT);
  const documentIds = new WeakMap<DocumentNode, number>();
  let documents = 0;

  const groupOf = (args: ExecutionArgs & { contextValue: Context }): string => {
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) documentIds.set(args.document, (documentId = ++documents));
    const viewer = dependsOnViewer(args.schema, args.document, args.operationName)
      ? (args.contextValue.viewer?.id ?? 'anonymous')
      : 'anyone';
    const variables = args.variableValues ?? {};
    const used = payloadVariables(args.document, args.operationName);
    const payload = used === undefined ? variables : Object.fromEntries(used.map((name) => [name, variables[name]]));
    return JSON.stringify([documentId, args.operationName ?? null, payload, viewer]);
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const source = await createSourceEventStream(args);
        if (!isAsyncIterable(source)) return source;
        const group = groupOf(args as ExecutionArgs & { contextValue: Context });
        return mapEvents(
          source as AsyncIterable<StoredEvent>,
          (event) =>
            resultFor(event.position, group, async () => {
              const result = maskResult(await execute({ ...args, rootValue: event }), log);
              resultEvents.set(result, event);
              return result;
            }),
          // A stream's failure is one subscriber's: logged with its request's or socket's ids.
          (error) =>
            maskError(error, (message, original) =>
              log(message, original, args.contextValue as Readonly<Record<string, unknown>>),
            ),
          observe?.(args),
          (args.contextValue as Context).sendResult,
        );
      });
    },
  };
}

/**
 * The source stream's events, each turned into its result; ends (and ends the source) with the
 * consumer. A failure of the source or of a result ends the stream with `masked(error)`. `onEnd`
 * runs once, when the stream is done, returned, or fails.
 *
 * With `send` (a WebSocket operation's), a result without errors goes to it straight from the
 * event stream, paced alike, and the consumer sees only the rest: in the fan-out to 5,000 that
 * skipped graphql-ws's loop, its serialisation of each message and this stream's steps, the
 * larger part of what a delivery cost beside the socket's own write (bench/README.md, "Results
 * sent from the stream").
 */
function mapEvents(
  source: AsyncIterable<StoredEvent>,
  resultOf: (event: StoredEvent) => Promise<ExecutionResult>,
  masked: (error: unknown) => Error,
  onEnd?: () => void,
  send?: (result: ExecutionResult) => void,
): AsyncIterableIterator<ExecutionResult> {
  const events = source[Symbol.asyncIterator]();
  let ended = onEnd === undefined;
  let open = true;
  const end = () => {
    open = false;
    if (ended) return;
    ended = true;
    onEnd!();
  };
  if (send !== undefined && deliversDirectly(events)) {
    events.deliverWith((event) =>
      resultOf(event).then((result) =>
        result.errors === undefined
          ? pace().then(() => {
              if (open) send(result);
              return true;
            })
          : false,
      ),
    );
  }
  const done = () => {
    end();
    return DONE;
  };
  const fail = (error: unknown) => {
    end();
    throw masked(error);
  };
  // Promise chains rather than async functions: an idle subscription then holds no suspended frame.
  // The end is noticed in handlers each step has anyway, so it adds no promise per event.
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () =>
      events
        .next()
        .then(
          (next) =>
            next.done === true
              ? done()
              : resultOf(next.value).then((value) => pace().then(() => ({ value, done: false as const })), fail),
          fail,
        ),
    return: () => {
      end();
      return (events.return?.() ?? Promise.resolve()).then(() => DONE);
    },
  };
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * Deliveries per turn of the event loop. When a shared result resolves, every subscriber waiting
 * for it goes on to send at once: in batches, a fan-out leaves room for requests between them.
 * With 100 rather than 200 (and the feed's WAKE_BATCH alike) the longest hold during a fan-out to
 * 10,000 fell from 58-140 ms to 35-48 ms, and delivery got faster too (bench/README.md).
 */
const pace = pacer(100);

const usedVariables = new WeakMap<DocumentNode, Map<string, string[] | undefined>>();

/**
 * The variables an event's result can depend on: all but those only the subscription field's own
 * arguments use (`after`, `bugId`, ...), which choose the events, not what each one looks like:
 * every subscription field resolves to the event itself. So clients resuming from different
 * cursors still share results. Undefined: all of them.
 */
function payloadVariables(document: DocumentNode, operationName?: string | null): string[] | undefined {
  let byOperation = usedVariables.get(document);
  if (byOperation === undefined) usedVariables.set(document, (byOperation = new Map<string, string[] | undefined>()));
  const key = operationName ?? '';
  if (byOperation.has(key)) return byOperation.get(key);
  const operation = getOperationAST(document, operationName);
  const [root, ...others] = operation?.selectionSet.selections ?? [];
  let names: string[] | undefined;
  if (root?.kind === Kind.FIELD && others.length === 0) {
    const chooseEvents = new Set<ASTNode>(root.arguments);
    const used = new Set<string>();
    visit(document, {
      Argument: (node) => (chooseEvents.has(node) ? false : undefined),
      VariableDefinition: () => false,
      Variable: (node) => void used.add(node.name.value),
    });
    names = [...used];
  }
  byOperation.set(key, names);
  return names;
}
