import { Repeater } from 'graphql-yoga';
import type { PrismaClient } from '../generated/prisma/client';
import type { Bus } from './bus';
import {
  cursorError,
  decodeCursor,
  encodeCursor,
  fromMessage,
  fromRow,
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
  log?: (message: string, error: unknown) => void;
}

const PAGE = 500;
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
 */
export class EventFeed implements EventSink {
  #head = 0n;
  #recent: StoredEvent[] = [];
  #tick = signal();
  #catchingUp: Promise<void> | undefined;
  #catchUpAgain = false;
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
    this.#log = options.log ?? ((message, error) => console.error(message, error));
  }

  /** Starts at the newest committed event, listening on the bus and polling the table. */
  static async open(prisma: PrismaClient, bus: Bus, options: FeedOptions): Promise<EventFeed> {
    const feed = new EventFeed(prisma, bus, options);
    feed.#head = await feed.newestPosition();
    const id = await bus.engine.subscribe(bus.channel, (message: EventMessage) => feed.#receive(message), {});
    feed.#unsubscribe = () => void bus.engine.unsubscribe(id);
    feed.#timers.push(
      setInterval(() => void feed.catchUp(), options.pollMs).unref(),
      setInterval(
        () => void feed.prune().catch((error) => feed.#log('Pruning events failed', error)),
        PRUNE_EVERY_MS,
      ).unref(),
    );
    await feed.prune();
    return feed;
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
      this.#accept(event);
      try {
        await this.bus.engine.publish(this.bus.channel, toMessage(event));
      } catch (error) {
        this.#log(`Publishing event ${event.position} failed; other instances will read it from the table`, error);
      }
    }
  }

  /** Reads every committed event after `head` from the table. Concurrent calls share one read. */
  catchUp(): Promise<void> {
    if (this.#catchingUp !== undefined) {
      this.#catchUpAgain = true;
      return this.#catchingUp;
    }
    this.#catchingUp = (async () => {
      do {
        this.#catchUpAgain = false;
        let page: StoredEvent[];
        do {
          page = await this.#readTable(this.#head);
          page.forEach((event) => this.#append(event));
          if (page.length > 0) this.#wake();
        } while (page.length === PAGE);
      } while (this.#catchUpAgain);
    })()
      .catch((error: unknown) => this.#log('Reading new events failed', error))
      .finally(() => (this.#catchingUp = undefined));
    return this.#catchingUp;
  }

  /**
   * Up to a page of events after `position`, in order: from memory when it still holds them,
   * from the table for a subscriber replaying from further back.
   */
  async read(position: bigint): Promise<StoredEvent[]> {
    const first = this.#recent[0];
    if (first !== undefined && position >= first.position - 1n) {
      const start = Number(position - first.position + 1n);
      return this.#recent.slice(start, start + PAGE);
    }
    return position >= this.#head ? [] : this.#readTable(position);
  }

  /** Resolves once there is an event after `position`, or at once if there already is. */
  waitBeyond(position: bigint): Promise<void> {
    return position < this.#head ? Promise.resolve() : this.#tick.promise;
  }

  /**
   * Every event after the cursor (or from now, without one) that `select` turns into a payload,
   * replayed then live, until the consumer stops. Waiting subscribers cost a closure each, not a
   * listener: they share one promise per tick.
   */
  stream<T>(after: bigint, select: (event: StoredEvent) => Promise<T | null>): AsyncIterableIterator<T> {
    return new Repeater<T>(async (push, stop) => {
      let open = true;
      void stop.then(() => (open = false));
      let position = after;
      while (open) {
        for (const event of await this.read(position)) {
          position = event.position;
          const payload = await select(event);
          if (payload !== null) await push(payload);
          if (!open) return;
        }
        await Promise.race([this.waitBeyond(position), stop]);
      }
    });
  }

  /** The position a subscription starts after: the cursor's, once it is known to be resumable, or the head. */
  async startAfter(cursor: string | null | undefined): Promise<bigint> {
    if (cursor == null) return this.#head;
    const position = decodeCursor(cursor);
    const newest = await this.newestPosition();
    if (position > newest) throw cursorError('UNKNOWN_CURSOR', 'No event has this cursor on this server.');
    if (position === newest) return position;
    // The replay starts with the next event: gone (positions have no gaps, so it was pruned) or
    // due for pruning, the history is no longer whole.
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

  /** The cursor of the newest committed event: state read after it is at least that new. */
  async currentCursor(): Promise<string> {
    return encodeCursor(await this.newestPosition());
  }

  private async newestPosition(): Promise<bigint> {
    const { _max } = await this.prisma.event.aggregate({ _max: { position: true } });
    return _max.position ?? 0n;
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
      void this.catchUp();
      return;
    }
    this.#append(event);
    this.#wake();
  }

  #append(event: StoredEvent): void {
    if (event.position <= this.#head) return;
    // A jump (events pruned while this instance was behind) restarts the buffer there.
    if (event.position !== this.#head + 1n) this.#recent = [];
    this.#recent.push(event);
    this.#head = event.position;
    if (this.#recent.length > 2 * this.#bufferSize) this.#recent = this.#recent.slice(-this.#bufferSize);
  }

  #wake(): void {
    const tick = this.#tick;
    this.#tick = signal();
    tick.resolve();
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

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
