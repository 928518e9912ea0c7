import type { PrismaClient } from '../generated/prisma/client';
import { defaultLogger } from '../infra/log';
import type { Bus } from './bus';
import {
  cursorError,
  decodeCursor,
  encodeCursor,
  fromMessage,
  fromRow,
  newestPosition,
  toMessage,
  type EventMessage,
  type StoredEvent,
} from './event';
import type { EventSink } from './outbox';

export interface FeedOptions {
  /** How often to look in the table for events the bus did not bring (a lost publish, another instance without Redis). */
  pollMs: number;
  /** Events older than this are deleted, and cursors pointing at them refused. */
  retentionDays: number;
  /** How many recent events to keep in memory, so live subscribers never read the table. */
  bufferSize?: number;
  /**
   * The routes an event may concern (e.g. `user:<id>`, `project:<id>`): a waiting stream is woken
   * only by events on one of its routes, so it must name every route that its filter could accept.
   */
  routesOf: (event: StoredEvent) => Promise<Iterable<string>>;
  /** Told of each event this instance publishes after its own commit (for metrics). */
  onPublish?: (event: StoredEvent) => void;
  log?: (message: string, error: unknown) => void;
}

const PAGE = 500;
/** Streams woken before the feed lets the event loop take a turn (timers, sockets, requests). */
const WAKE_BATCH = 100;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * This instance's view of the event log: the newest position it has seen (`head`), the last few
 * thousand events in memory, and a signal for subscribers waiting on the next one.
 *
 * Events arrive from this instance's own commits, from the bus, and from a periodic read of the
 * table. Because positions are gap-free and commit in order, an event at `head + 1` is appended
 * as it is; anything else (an event that overtook another on the bus, a missed message) sends
 * the feed to the table for everything after `head`. Each instance thus delivers every event
 * once, in order, whatever the bus does.
 *
 * Routing keeps an event from waking subscribers it cannot concern. A stream that has read up to
 * `head` waits under its routes; each appended event is routed, one at a time and in position
 * order, to the streams waiting on its routes, which wake knowing its position. Every event
 * between a stream's position and that one was routed first and did not concern it, so the
 * stream resumes right before the event that woke it: its order and completeness are the log's,
 * and a unicast event costs the same however many others are subscribed.
 */
export class EventFeed implements EventSink {
  #head = 0n;
  #recent: StoredEvent[] = [];
  /** Streams waiting at `head`, by route. */
  readonly #waiting = new Map<string, Set<Waiter>>();
  /** Streams on their routes, each once however many routes it has. */
  #streams = 0;
  /** The routes of appended events, worked out one after another in position order. */
  #routed: Promise<Set<string> | undefined> = Promise.resolve(undefined);
  /** The waking of the streams on those routes, one event after another. */
  #routing: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<EventListener>();
  /** The read of new events under way (catchUp), and the one queued to start after it. */
  #catchingUp: Promise<void> | undefined;
  #catchUpNext: Promise<void> | undefined;
  /** The last read of the table failed: a database outage is logged once, not at every poll. */
  #readFailing = false;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  readonly #bufferSize: number;
  readonly #log: (message: string, error: unknown) => void;

  private constructor(
    private readonly prisma: PrismaClient,
    private readonly bus: Bus,
    private readonly options: FeedOptions,
  ) {
    this.#bufferSize = options.bufferSize ?? 4096;
    this.#log = options.log ?? ((message, error) => defaultLogger().error({ err: error }, message));
  }

  /** Starts at the newest committed event, listening on the bus and polling the table. */
  static async open(prisma: PrismaClient, bus: Bus, options: FeedOptions): Promise<EventFeed> {
    const feed = new EventFeed(prisma, bus, options);
    feed.#head = await newestPosition(prisma);
    const id = await bus.engine.subscribe(bus.channel, (message: EventMessage) => feed.#receive(message), {});
    feed.#unsubscribe = () => void bus.engine.unsubscribe(id);
    feed.#timers.push(
      setInterval(() => void feed.catchUp().catch(() => undefined), options.pollMs).unref(),
      setInterval(
        () => void feed.prune().catch((error) => feed.#log('Pruning events failed', error)),
        PRUNE_EVERY_MS,
      ).unref(),
    );
    await feed.prune();
    return feed;
  }

  /** How many streams are on their routes: live subscriptions that have caught up once and not ended. */
  get listening(): number {
    return this.#streams;
  }

  /** The newest position this instance has delivered from. */
  get head(): bigint {
    return this.#head;
  }

  async close(): Promise<void> {
    this.#timers.forEach(clearInterval);
    this.#unsubscribe?.();
    await this.#catchingUp;
  }

  /** After a commit: this instance's subscribers first, then every other instance through the bus. */
  async publish(events: StoredEvent[]): Promise<void> {
    for (const event of events) {
      this.options.onPublish?.(event);
      this.#accept(event);
      try {
        await this.bus.engine.publish(this.bus.channel, toMessage(event));
      } catch (error) {
        this.#log(`Publishing event ${event.position} failed; other instances will read it from the table`, error);
      }
    }
  }

  /**
   * Reads every event committed after `head` from the table, its own and other instances' (those
   * the bus has not brought yet): once it resolves, every event committed before the call has been
   * taken in. One read at a time: callers arriving while one runs share the next, which starts when
   * it ends, so a burst costs two reads and none is answered by a read that began before it was
   * made. Rejects when the table cannot be read (logged once until a read succeeds).
   */
  catchUp(): Promise<void> {
    if (this.#catchingUp === undefined) return this.#readNew();
    this.#catchUpNext ??= this.#catchingUp.then(
      () => this.#readNextRound(),
      () => this.#readNextRound(),
    );
    return this.#catchUpNext;
  }

  #readNextRound(): Promise<void> {
    this.#catchUpNext = undefined;
    return this.#readNew();
  }

  #readNew(): Promise<void> {
    const read = (async () => {
      let page: StoredEvent[];
      do {
        page = await this.#readTable(this.#head);
        page.forEach((event) => this.#append(event));
      } while (page.length === PAGE);
    })().then(
      () => {
        this.#readFailing = false;
      },
      (error: unknown) => {
        if (!this.#readFailing) this.#log('Reading new events failed (not logged again until a read succeeds)', error);
        this.#readFailing = true;
        throw error;
      },
    );
    this.#catchingUp = read;
    const settle = () => {
      if (this.#catchingUp === read) this.#catchingUp = undefined;
    };
    read.then(settle, settle);
    return read;
  }

  /**
   * Up to a page of events after `position`, in order: from memory when it still holds them,
   * from the table for a subscriber replaying from further back.
   */
  async read(position: bigint): Promise<readonly StoredEvent[]> {
    return this.recentAfter(position) ?? this.#readTable(position);
  }

  /**
   * Every event after the cursor (or from now, without one) that `select` turns into a payload,
   * replayed then live, until the consumer stops. `routes` must name every route of every event
   * `select` could accept: between events, the stream waits only on those.
   */
  stream<T>(
    after: bigint,
    routes: readonly string[],
    select: (event: StoredEvent) => Promise<T | null>,
  ): AsyncIterableIterator<T> {
    return new EventStream(this, after, routes, select);
  }

  /** The events after `position` this instance holds in memory; undefined when it must read the table. */
  recentAfter(position: bigint): readonly StoredEvent[] | undefined {
    const first = this.#recent[0];
    if (first !== undefined && position >= first.position - 1n) {
      const start = Number(position - first.position + 1n);
      return this.#recent.slice(start, start + PAGE);
    }
    return position >= this.#head ? [] : undefined;
  }

  /**
   * Registers a stream on `routes` for as long as it runs. While the waiter's `wake` is set (the
   * stream is up to date at `position`), the next event on one of its routes takes it and calls it
   * with the event's position. One registration a stream rather than one a wait: putting thousands
   * of waiters back into a route's set after every event made the set shrink and grow again at
   * each fan-out (`cancel` alone was 3.6 % of a fan-out's time to 5,000; bench/README.md).
   */
  listen(routes: readonly string[]): Waiter {
    this.#streams++;
    const waiter: Waiter = {
      position: 0n,
      wake: undefined,
      close: () => {
        this.#streams--;
        for (const route of routes) {
          const waiters = this.#waiting.get(route);
          waiters?.delete(waiter);
          if (waiters?.size === 0) this.#waiting.delete(route);
        }
      },
    };
    for (const route of routes) {
      let waiters = this.#waiting.get(route);
      if (waiters === undefined) this.#waiting.set(route, (waiters = new Set()));
      waiters.add(waiter);
    }
    return waiter;
  }

  /**
   * Works out the event's routes (after every earlier event's), tells the listeners, then wakes
   * the streams waiting on them: every stream, if its routes cannot be worked out.
   */
  #route(event: StoredEvent): void {
    const routed = (this.#routed = this.#routed.then(async () => {
      let routes: Set<string> | undefined;
      try {
        routes = new Set(await this.options.routesOf(event));
      } catch (error) {
        this.#log(`Routing event ${event.position} failed; waking every subscriber`, error);
      }
      for (const listener of this.#listeners) {
        try {
          listener(event, routes);
        } catch (error) {
          this.#log(`A listener failed on event ${event.position}`, error);
        }
      }
      return routes;
    }));
    this.#routing = this.#routing.then(async () => {
      const routes = (await routed) ?? this.#waiting.keys();
      let woken = 0;
      for (const route of [...routes]) {
        for (const waiter of [...(this.#waiting.get(route) ?? [])]) {
          const wake = waiter.wake;
          if (wake === undefined || waiter.position >= event.position) continue;
          waiter.wake = undefined;
          wake(event.position);
          // Each woken stream goes on at once, up to its first promise, and in microtasks after
          // that, which all run before the event loop gets a turn: waking thousands at once
          // would hold up every request behind their deliveries.
          if (++woken % WAKE_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
    });
  }

  /**
   * Calls `listener` with every event this instance appends and its routes (undefined: they could
   * not be worked out, so it may concern anyone), one event at a time in position order, before
   * any subscriber is woken by it.
   */
  onEvent(listener: EventListener): void {
    this.#listeners.add(listener);
  }

  /** Resolves once every event appended so far has been through the `onEvent` listeners. */
  async settled(): Promise<void> {
    await this.#routed;
  }

  /** The position a subscription starts after: the cursor's, once it is known to be resumable, or the head. */
  async startAfter(cursor: string | null | undefined): Promise<bigint> {
    if (cursor == null) return this.#head;
    const position = decodeCursor(cursor);
    // The table only when the cursor is newer than anything this instance has seen.
    const newest = position <= this.#head ? this.#head : await newestPosition(this.prisma);
    if (position > newest) throw cursorError('UNKNOWN_CURSOR', 'No event has this cursor on this server.');
    if (position === newest) return position;
    // The replay starts with the next event: gone (positions have no gaps, so it was pruned) or
    // due for pruning, the history is no longer whole. The table decides, as pruning goes by it;
    // Prisma batches the lookups of clients resuming together into one statement.
    const next = await this.prisma.event.findUnique({
      where: { position: position + 1n },
      select: { createdAt: true },
    });
    if (next === null || next.createdAt < this.#cutoff()) {
      throw cursorError(
        'CURSOR_EXPIRED',
        `This cursor is older than the ${this.options.retentionDays}-day event history: reload, then subscribe without \`after\`.`,
      );
    }
    return position;
  }

  /**
   * How many committed events this instance has yet to append: the newest position in the table
   * minus `head`. One index lookup. Briefly non-zero while another instance's event is on its
   * way here; a backlog that stays means this instance is falling behind.
   */
  async backlog(): Promise<bigint> {
    const newest = await newestPosition(this.prisma);
    return newest > this.#head ? newest - this.#head : 0n;
  }

  /** The cursor of the newest committed event: state read after it is at least that new. */
  async currentCursor(): Promise<string> {
    return encodeCursor(await newestPosition(this.prisma));
  }

  /** Deletes events past retention, always keeping the newest so positions keep counting from it. */
  async prune(): Promise<void> {
    await this.prisma.event.deleteMany({ where: { createdAt: { lt: this.#cutoff() }, position: { lt: this.#head } } });
  }

  #cutoff(): Date {
    return new Date(Date.now() - this.options.retentionDays * 24 * 3600 * 1000);
  }

  #receive(message: EventMessage): void {
    this.#accept(fromMessage(message));
  }

  #accept(event: StoredEvent): void {
    if (event.position <= this.#head) return;
    if (event.position !== this.#head + 1n) {
      void this.catchUp().catch(() => undefined);
      return;
    }
    this.#append(event);
  }

  #append(event: StoredEvent): void {
    if (event.position <= this.#head) return;
    // A jump (events pruned while this instance was behind) restarts the buffer there.
    if (event.position !== this.#head + 1n) this.#recent = [];
    this.#recent.push(event);
    this.#head = event.position;
    if (this.#recent.length > 2 * this.#bufferSize) this.#recent = this.#recent.slice(-this.#bufferSize);
    this.#route(event);
  }

  async #readTable(after: bigint): Promise<StoredEvent[]> {
    const rows = await this.prisma.event.findMany({
      where: { position: { gt: after } },
      orderBy: { position: 'asc' },
      take: PAGE,
    });
    return rows.map(fromRow);
  }
}

/** Told of each appended event and its routes (undefined when they could not be worked out). */
export type EventListener = (event: StoredEvent, routes: ReadonlySet<string> | undefined) => void;

/** A stream's place on its routes: waiting at `position` while `wake` is set, busy otherwise. */
interface Waiter {
  position: bigint;
  /** Set while the stream waits; taken (unset) by whoever calls it: an event's position, or undefined when the stream ends. */
  wake: ((at: bigint | undefined) => void) | undefined;
  /** Takes the stream off its routes, when it ends. */
  close(): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const NO_EVENTS: readonly StoredEvent[] = Object.freeze([]);
/** A step of a stream that has nothing for its consumer yet: the event was not selected, or was delivered directly. */
const AGAIN = Symbol('again');
/** A step that left the stream waiting on its routes. */
const WAITING = Symbol('waiting');

type Step<T> = IteratorResult<T, undefined> | typeof AGAIN;

/**
 * Sends a subscriber's payload straight to them, without handing it to the stream's consumer;
 * resolves to false when it did not (the consumer then gets the payload as usual).
 */
export type DirectDelivery<T> = (payload: T) => Promise<boolean>;

/** A stream whose payloads can go straight to the subscriber (see EventStream.deliverWith). */
export interface DeliversDirectly<T> {
  deliverWith(deliver: DirectDelivery<T>): void;
}

/** Whether a subscription's stream is the feed's, which can deliver directly. */
export function deliversDirectly<T>(stream: AsyncIterator<T>): stream is AsyncIterator<T> & DeliversDirectly<T> {
  return stream instanceof EventStream;
}

/**
 * One subscriber's way through the log, pulled by its consumer one payload at a time: nothing is
 * read or selected ahead of what the consumer asks for, and an idle stream is one waiter on its
 * routes and its consumer's pending promise, the least that thousands of idle subscribers can
 * cost. (Not a Repeater or an async generator: those cost several promises per event and hold a
 * suspended frame while idle, and a generator's `return()` cannot end a pending `next()`.)
 *
 * Given a way to deliver payloads itself (`deliverWith`), the stream sends each one that way and
 * goes on to the next event, in order, while its consumer's `next()` stays pending: a live
 * subscriber's events then skip the consumer's machinery (for graphql-ws, a loop of promises and a
 * serialisation per message) altogether.
 */
class EventStream<T> implements AsyncIterableIterator<T>, DeliversDirectly<T> {
  #position: bigint;
  /** Events read and not yet selected; emptied once used, so an idle stream holds none. */
  #page: readonly StoredEvent[] = NO_EVENTS;
  #index = 0;
  #waiter: Waiter | undefined;
  #done = false;
  #deliver: DirectDelivery<T> | undefined;
  /** How the consumer's pending `next()` settles; one at a time, as `for await` asks. */
  #resolve: ((result: IteratorResult<T, undefined>) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(
    private readonly feed: EventFeed,
    after: bigint,
    private readonly routes: readonly string[],
    private readonly select: (event: StoredEvent) => Promise<T | null>,
  ) {
    this.#position = after;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  deliverWith(deliver: DirectDelivery<T>): void {
    this.#deliver = deliver;
  }

  /**
   * Steps until there is something for the consumer: on at once while a step is answered at once,
   * when a step's promise settles, or when the feed wakes the stream. No step's promise is chained
   * to the next: a stream that delivers directly for days never resolves this one, and a chain
   * would grow by a link an event.
   */
  next(): Promise<IteratorResult<T, undefined>> {
    const stepping = new Promise<IteratorResult<T, undefined>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#go();
    });
    // A stream that failed is over: off its routes, as if its consumer had returned it.
    stepping.catch(() => void this.return());
    return stepping;
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#done = true;
    this.#page = NO_EVENTS;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      const wake = waiter.wake;
      waiter.wake = undefined;
      waiter.close();
      wake?.(undefined);
    }
    return Promise.resolve(DONE);
  }

  #go(): void {
    for (;;) {
      let step: Step<T> | Promise<Step<T>> | typeof WAITING;
      try {
        step = this.#step();
      } catch (error) {
        return this.#fail(error);
      }
      if (step === WAITING) return;
      if (step === AGAIN) continue;
      if (step instanceof Promise) return void step.then(this.#stepped, this.#fail);
      return this.#settle(step);
    }
  }

  // Made once per stream rather than once per event: thousands of subscribers then wait for the
  // next event without a promise or closure each, which the fan-out of every event made anew and
  // the young generation's collections copied (a few MiB per scavenge at 5,000: bench/README.md).
  readonly #stepped = (step: Step<T>): void => (step === AGAIN ? this.#go() : this.#settle(step));
  readonly #woken = (at: bigint | undefined): void => {
    // Nothing between here and the event that woke us was on our routes.
    if (at !== undefined && at - 1n > this.#position) this.#position = at - 1n;
    this.#go();
  };
  readonly #fail = (error: unknown): void => {
    const reject = this.#reject;
    this.#resolve = this.#reject = undefined;
    reject?.(error);
  };

  #settle(result: IteratorResult<T, undefined>): void {
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    resolve?.(result);
  }

  /** One step; WAITING when it left the stream on its routes, for the feed's wake to go on. */
  #step(): Step<T> | Promise<Step<T>> | typeof WAITING {
    if (this.#done) return DONE;
    if (this.#index < this.#page.length) return this.#offer(this.#page[this.#index++]!);
    this.#page = NO_EVENTS;
    this.#index = 0;
    const recent = this.feed.recentAfter(this.#position);
    if (recent === undefined) return this.feed.read(this.#position).then((page) => this.#turnTo(page));
    if (recent.length > 0) return this.#turnTo(recent);
    // Up to date: wait for an event on our routes.
    const waiter = (this.#waiter ??= this.feed.listen(this.routes));
    waiter.position = this.#position;
    waiter.wake = this.#woken;
    return WAITING;
  }

  #turnTo(page: readonly StoredEvent[]): typeof AGAIN {
    this.#page = page;
    this.#index = 0;
    return AGAIN;
  }

  /** The event's payload, or AGAIN when the subscriber does not select it or it was delivered directly. */
  async #offer(event: StoredEvent): Promise<Step<T>> {
    this.#position = event.position;
    const payload = await this.select(event);
    if (this.#done) return DONE;
    if (payload === null) return AGAIN;
    if (this.#deliver !== undefined && (await this.#deliver(payload))) return AGAIN;
    return { value: payload, done: false };
  }
}
