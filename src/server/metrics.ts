import { performance } from 'node:perf_hooks';
import { isAsyncIterable, type Plugin } from '@envelop/core';
import {
  getOperationAST,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type Metric,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';
import type { StoredEvent } from '../events/event';
import { EventType } from '../generated/prisma/enums';
import { errorCode } from '../graphql/errors';
import type { PoolStats } from '../infra/db';
import { eventOf, type StreamObserver } from '../modules/realtime/shared-results';
import { within } from './probes';
import type { RateLimitName } from './rate-limits';

/*
 * Prometheus metrics, in one registry per app: tests run several apps in one process, and the
 * global registry would add them up. What is counted where, and what it costs:
 *
 * - Fan-out is the hot path: one event goes out to thousands of sockets. A delivery (a `next`
 *   frame carrying an event's result, sent on a socket) costs a WeakMap lookup, a Map update and
 *   a bucket increment, and allocates nothing: counts per event type pile up in plain numbers and
 *   reach their prom-client counter when Prometheus scrapes, and the lag histogram records in place
 *   (InPlaceHistogram), since prom-client's Histogram allocates on every observation.
 * - Subscriptions are counted where their streams start and end (useSharedSubscriptionResults),
 *   sockets where they open and close, events where this instance publishes them, refusals where
 *   each limit refuses.
 * - Operations are counted by a small envelop plugin (operationPlugin) rather than
 *   @graphql-yoga/plugin-prometheus: that plugin's subscription metrics wrap every subscriber's
 *   stream (a step per event per subscriber, which the fan-out cannot afford), it has no outcome
 *   per operation (it counts requests, and errors one by one by path), and it serves /metrics
 *   through yoga, which the probes must not go through.
 * - What can be read when scraped is read then: the outbox backlog (one index lookup) and the
 *   PostgreSQL pool (three numbers; PGlite has no pool, so those gauges are left out).
 * - Process metrics (prom-client's defaults: CPU, memory, event loop lag, GC) describe the process,
 *   not an app, and their collectors cannot be stopped: they live in one registry per process,
 *   made on first use, and every app's /metrics ends with them.
 */

/** A limit whose refusals are counted: a rate-limit budget, a socket's message rate, sockets per user. */
export type RejectedLimit = RateLimitName | 'WS_MAX_MESSAGES_PER_SECOND' | 'WS_MAX_SOCKETS_PER_USER';

const REJECTED_LIMITS: readonly RejectedLimit[] = [
  'RATE_LIMIT_SIGNIN_PER_IP',
  'RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT',
  'RATE_LIMIT_OPERATIONS_PER_USER',
  'WS_MAX_MESSAGES_PER_SECOND',
  'WS_MAX_SOCKETS_PER_USER',
];

/** What the metrics read when Prometheus scrapes, rather than count as things happen. */
export interface MetricSources {
  /** Committed events this instance has yet to append (see EventFeed.backlog). */
  backlog(): Promise<bigint>;
  /** The database pool right now; undefined on PGlite (see Database.poolStats). */
  poolStats(): PoolStats | undefined;
}

/** How long a scrape waits for the backlog query; past it the gauge reads NaN rather than hold the scrape. */
const SCRAPE_QUERY_TIMEOUT_MS = 2_000;
/**
 * Operation names are the client's to choose: past this many distinct ones, the rest are counted
 * as `_other`, so that no client can grow the registry without end.
 */
const MAX_OPERATION_NAMES = 200;
/** Seconds. Delivery to a few sockets takes a millisecond or two; a fan-out to thousands, up to seconds. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One app's metrics: what happens is counted through its methods, and `exposition` serves them. */
export class Metrics {
  /** This app's registry: everything /metrics serves. */
  readonly registry = new Registry();
  readonly #sockets: Gauge;
  readonly #subscriptions: Gauge<'field'>;
  readonly #published: Counter<'type'>;
  readonly #delivered: Counter<'type'>;
  /** Deliveries by event type since the last scrape; the counter takes them when scraped. */
  readonly #pendingDeliveries = new Map<string, number>();
  readonly #lag: InPlaceHistogram;
  readonly #operations: Counter<'operation' | 'type' | 'outcome'>;
  readonly #durations: Histogram<'operation' | 'type'>;
  readonly #rejections: Counter<'limit'>;
  readonly #operationNames = new Set<string>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.#sockets = new Gauge({
      name: 'bugzapp_websocket_connections',
      help: 'WebSocket connections open now.',
      registers,
    });
    this.#subscriptions = new Gauge({
      name: 'bugzapp_subscriptions_active',
      help: 'Subscriptions running now (WebSocket and Server-Sent Events), by root field.',
      labelNames: ['field'],
      registers,
    });
    this.#published = new Counter({
      name: 'bugzapp_events_published_total',
      help: 'Events this instance committed and published, by type.',
      labelNames: ['type'],
      registers,
    });
    this.#delivered = new Counter({
      name: 'bugzapp_events_delivered_total',
      help: 'Subscription results sent on a WebSocket (one `next` message each), by event type.',
      labelNames: ['type'],
      registers,
      collect: () => this.#takeDeliveries(),
    });
    // Every type from the start, so that a rate is there before the first event of its kind.
    for (const type of Object.values(EventType)) {
      this.#published.inc({ type }, 0);
      this.#delivered.inc({ type }, 0);
      this.#pendingDeliveries.set(type, 0);
    }
    this.#lag = new InPlaceHistogram(
      'bugzapp_event_delivery_lag_seconds',
      "Time from an event's commit to a subscriber's socket being handed its result.",
      LAG_BUCKETS,
    );
    // The registry asks a metric for nothing but its name and `get()`; the type names prom-client's classes only.
    this.registry.registerMetric(this.#lag as unknown as Metric);
    this.#operations = new Counter({
      name: 'bugzapp_graphql_operations_total',
      help: 'GraphQL operations (HTTP and WebSocket) by operation name, type and outcome: ok, or the first error code.',
      labelNames: ['operation', 'type', 'outcome'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'bugzapp_graphql_operation_duration_seconds',
      help: 'From parsing to the result (for a subscription: to its stream being set up), by operation name and type.',
      labelNames: ['operation', 'type'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#rejections = new Counter({
      name: 'bugzapp_rate_limit_rejections_total',
      help: 'Requests, operations and sockets refused for going over a limit, by its environment variable.',
      labelNames: ['limit'],
      registers,
    });
    for (const limit of REJECTED_LIMITS) this.#rejections.inc({ limit }, 0);
    new Gauge({
      name: 'bugzapp_outbox_backlog_events',
      help: 'Committed events this instance has not delivered from yet: the newest position in the table minus its own.',
      registers,
      async collect() {
        try {
          this.set(Number(await within(sources.backlog(), SCRAPE_QUERY_TIMEOUT_MS)));
        } catch {
          this.set(Number.NaN);
        }
      },
    });
    if (sources.poolStats() !== undefined) {
      const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const stats = sources.poolStats();
            if (stats !== undefined) this.set(read(stats));
          },
        });
      poolGauge('bugzapp_db_pool_connections', 'PostgreSQL connections open, idle or in use.', (s) => s.total);
      poolGauge('bugzapp_db_pool_idle_connections', 'PostgreSQL connections open and unused.', (s) => s.idle);
      poolGauge(
        'bugzapp_db_pool_waiting_queries',
        'Queries waiting for a PostgreSQL connection, every one being in use.',
        (s) => s.waiting,
      );
    }
  }

  /** This app's metrics and the process's, in Prometheus' text format, with its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const [app, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return { contentType: this.registry.contentType, body: app + process };
  }

  /** A WebSocket connection opened. */
  socketOpened(): void {
    this.#sockets.inc();
  }

  /** A WebSocket connection closed. */
  socketClosed(): void {
    this.#sockets.dec();
  }

  /** This instance committed `event` and publishes it (see FeedOptions.onPublish). */
  readonly published = (event: StoredEvent): void => {
    this.#published.inc({ type: event.type });
  };

  /**
   * A `next` message with `result` went out on a socket: counted when the result is an event's.
   * Runs once per subscriber per event, so it allocates nothing.
   */
  delivered(result: ExecutionResult): void {
    const event = eventOf(result);
    if (event === undefined) return;
    this.#pendingDeliveries.set(event.type, (this.#pendingDeliveries.get(event.type) ?? 0) + 1);
    // Another instance's clock may run ahead of ours.
    this.#lag.observe(Math.max(0, Date.now() - event.createdAt.getTime()) / 1000);
  }

  /** A request, operation or socket was refused for going over `limit`. */
  readonly refused = (limit: RejectedLimit): void => {
    this.#rejections.inc({ limit });
  };

  /** A subscription's stream started; the function returned is called when it ends (see StreamObserver). */
  readonly subscriptionStarted: StreamObserver = (args) => {
    const field = rootFieldOf(args);
    this.#subscriptions.inc({ field });
    return () => this.#subscriptions.dec({ field });
  };

  /**
   * Counts and times every GraphQL operation, over HTTP and WebSocket alike (both go through
   * yoga's envelop), from its parse to its result: the outcome is `ok` or the code of its first
   * error, as the client will see it after masking. An operation refused before it runs (invalid,
   * too complex, unauthenticated, rate limited) counts with that code. A document that does not
   * parse is no operation and is not counted. Place it before every plugin that can answer in
   * their stead (rate limits, the response cache), so it sees their answers too.
   */
  operationPlugin(): Plugin {
    /** When each operation started and what it parsed to, by the context object every phase shares. */
    const started = new WeakMap<object, { at: number; document?: DocumentNode }>();
    const finish = (
      context: object,
      document: DocumentNode | undefined,
      operationName: string | null | undefined,
      outcome: string,
    ) => {
      const at = started.get(context)?.at;
      started.delete(context);
      const operation = document === undefined ? null : getOperationAST(document, operationName);
      const labels = { operation: this.#operationLabel(operation), type: operation?.operation ?? 'unknown' };
      this.#operations.inc({ ...labels, outcome });
      this.#durations.observe(labels, at === undefined ? 0 : (performance.now() - at) / 1000);
    };
    const outcomeOf = (result: unknown) =>
      isAsyncIterable(result) ? 'ok' : firstCode((result as ExecutionResult).errors, 'ERROR');
    return {
      onPluginInit: ({ registerContextErrorHandler }) =>
        registerContextErrorHandler(({ context, error }) =>
          finish(context, started.get(context)?.document, operationNameOf(context), errorCode(error) ?? 'ERROR'),
        ),
      onParse: ({ context }) => {
        const state: { at: number; document?: DocumentNode } = { at: performance.now() };
        started.set(context, state);
        return ({ result }) => {
          if (result === null || result instanceof Error) started.delete(context);
          else state.document = result as DocumentNode;
        };
      },
      onValidate:
        ({ context, params }) =>
        ({ valid, result }) => {
          if (!valid) {
            finish(
              context,
              params.documentAST as DocumentNode,
              operationNameOf(context),
              firstCode(result, 'GRAPHQL_VALIDATION_FAILED'),
            );
          }
        },
      onExecute: ({ args }) => {
        const { contextValue: context, document, operationName } = args as ExecutionArgs & { contextValue: object };
        if (!started.has(context)) started.set(context, { at: performance.now() });
        return { onExecuteDone: ({ result }) => finish(context, document, operationName, outcomeOf(result)) };
      },
      onSubscribe: ({ args }) => {
        const { contextValue: context, document, operationName } = args as ExecutionArgs & { contextValue: object };
        if (!started.has(context)) started.set(context, { at: performance.now() });
        return { onSubscribeResult: ({ result }) => finish(context, document, operationName, outcomeOf(result)) };
      },
    };
  }

  /** The operation's name as a label: `anonymous` without one, `_other` past MAX_OPERATION_NAMES. */
  #operationLabel(operation: OperationDefinitionNode | null | undefined): string {
    if (operation == null) return 'unknown';
    const name = operation.name?.value;
    if (name === undefined) return 'anonymous';
    if (this.#operationNames.has(name)) return name;
    if (this.#operationNames.size >= MAX_OPERATION_NAMES) return '_other';
    this.#operationNames.add(name);
    return name;
  }

  /** Hands the deliveries counted since the last scrape to their counter. */
  #takeDeliveries(): void {
    for (const [type, count] of this.#pendingDeliveries) {
      if (count === 0) continue;
      this.#delivered.inc({ type }, count);
      this.#pendingDeliveries.set(type, 0);
    }
  }
}

let processRegistry: Registry | undefined;

/** The process's own metrics (prom-client's defaults), collected once however many apps it runs. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The operation name a request asked for (yoga and the WebSocket server both put its params in the context). */
function operationNameOf(context: object): string | undefined {
  const name = (context as { params?: { operationName?: unknown } }).params?.operationName;
  return typeof name === 'string' ? name : undefined;
}

function firstCode(errors: readonly unknown[] | undefined, fallback: string): string {
  const first = errors?.[0];
  return first === undefined ? 'ok' : (errorCode(first) ?? fallback);
}

/** A subscription's one root field, looking through fragments; `unknown` if there is none to name. */
function rootFieldOf({ document, operationName }: ExecutionArgs): string {
  const fragments = new Map(
    document.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment.selectionSet]),
  );
  const firstField = (selectionSet: SelectionSetNode | undefined): string | undefined => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) return selection.name.value;
      const inner =
        selection.kind === Kind.INLINE_FRAGMENT ? selection.selectionSet : fragments.get(selection.name.value);
      const found = firstField(inner);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return firstField(getOperationAST(document, operationName)?.selectionSet) ?? 'unknown';
}

/**
 * A histogram without labels that records in place: `observe` finds a bucket and adds to three
 * numbers, allocating nothing, where prom-client's Histogram allocates on every observation. The
 * registry takes it as a metric of its own and asks it for its values (`get`) when scraped.
 */
class InPlaceHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Observations per bucket (not cumulative); the last slot is past the largest bound. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]!) bucket++;
    this.#counts[bucket] = this.#counts[bucket]! + 1;
    this.#sum += value;
    this.#count++;
  }

  /** Cumulative buckets, `+Inf`, sum and count, as prom-client's own histograms report them. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    const values: MetricValueWithName<string>[] = this.bounds.map((le, i) => ({
      metricName: bucket,
      labels: { le },
      value: (cumulative += this.#counts[i]!),
    }));
    values.push(
      { metricName: bucket, labels: { le: '+Inf' }, value: this.#count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.#sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.#count },
    );
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
      // `collect` is a hook prom-client's own metrics call inside their get(); the registry never reads it.
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>);
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}
