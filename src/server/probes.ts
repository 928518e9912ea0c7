import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './http';
import type { Metrics } from './metrics';

/*
 * The endpoints for whoever runs the server, answered in the node HTTP layer before anything else:
 * no GraphQL, no rate limits, no body limit, no authentication but the metrics token.
 *
 * - `GET /health`: the process is up and serving HTTP. It asks nothing else, so a failing
 *   dependency never gets a healthy process restarted.
 * - `GET /ready`: this instance can do its work now: the database answers `SELECT 1` and, with
 *   REDIS_URL, the event bus's Redis connections are up (see Bus.check). 200, or 503 naming what
 *   is down. Each dependency is given READY_TIMEOUT_MS to answer, at most one check of it is in
 *   flight however many probes arrive (a hung one is not asked again until it answers), and an
 *   answer is reused for REUSE_MS: a flood of probes, which nobody has to sign in to send, costs
 *   the database at most one query a second.
 * - `GET /metrics`: Prometheus' text format (see metrics.ts), behind METRICS_TOKEN when it is set;
 *   with METRICS=false it is left to yoga, which answers 404.
 */

/** How long a dependency has to answer before /ready calls it down. */
const READY_TIMEOUT_MS = 2_000;
/** How long a dependency's answer stands for the probes after it. */
const REUSE_MS = 1_000;

export interface ProbeOptions {
  /**
   * What /ready checks, by the name its answer gives: each resolves when its dependency answers,
   * or rejects with an error whose message (first line) says why not. The message goes to anyone
   * who asks, so it should name no host or credential; the error itself is only logged.
   */
  checks: Record<string, () => Promise<unknown>>;
  /** The app's metrics; undefined when METRICS=false. */
  metrics: Metrics | undefined;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** Told when a dependency goes down (once, not at every probe) and when a scrape fails. */
  log: (message: string, error: unknown) => void;
  /** True once the app has begun to stop: /ready then answers 503 so no balancer sends it more. */
  stopping?: () => boolean;
}

/** Answers /health, /ready and /metrics; hands every other request to `listener`. */
export function serveProbes(listener: RequestListener, options: ProbeOptions): RequestListener {
  const checks = Object.entries(options.checks).map(
    ([name, check]) => [name, reusedCheck(name, check, options.log)] as const,
  );
  const expectedToken = options.metricsToken === undefined ? undefined : digest(options.metricsToken);

  const ready = async (res: ServerResponse, head: boolean) => {
    if (options.stopping?.() === true) {
      send(res, 503, head, JSON_TYPE, JSON.stringify({ status: 'stopping', checks: {} }));
      return;
    }
    const states = await Promise.all(checks.map(async ([name, check]) => [name, await check()] as const));
    const ok = states.every(([, state]) => state === 'ok');
    send(
      res,
      ok ? 200 : 503,
      head,
      JSON_TYPE,
      JSON.stringify({ status: ok ? 'ok' : 'unavailable', checks: Object.fromEntries(states) }),
    );
  };

  const metrics = async (req: IncomingMessage, res: ServerResponse, head: boolean, registry: Metrics) => {
    if (expectedToken !== undefined && !tokenMatches(req.headers.authorization, expectedToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      send(res, 401, head, TEXT_TYPE, 'Send Authorization: Bearer <METRICS_TOKEN>.\n');
      return;
    }
    try {
      const { contentType, body } = await registry.exposition();
      send(res, 200, head, contentType, body);
    } catch (error) {
      options.log('Collecting metrics failed', error);
      send(res, 500, head, TEXT_TYPE, 'Collecting metrics failed.\n');
    }
  };

  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    const registry = options.metrics;
    if (path !== '/health' && path !== '/ready' && (path !== '/metrics' || registry === undefined)) {
      void listener(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, false, TEXT_TYPE, 'GET or HEAD only.\n');
      return;
    }
    const head = req.method === 'HEAD';
    if (path === '/health') send(res, 200, head, JSON_TYPE, '{"status":"ok"}');
    else if (path === '/ready') void ready(res, head);
    else if (registry !== undefined) void metrics(req, res, head, registry);
  };
}

/**
 * `promise`, or a rejection saying that it timed out after `ms`. The promise goes on regardless;
 * the timer does not keep the process alive.
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

function send(res: ServerResponse, status: number, head: boolean, contentType: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

/**
 * A check that answers `ok` or `down: <why>`, within READY_TIMEOUT_MS, from at most one call of
 * `check` in flight, and from its last answer while that is younger than REUSE_MS.
 */
function reusedCheck(name: string, check: () => Promise<unknown>, log: ProbeOptions['log']): () => Promise<string> {
  let last: { at: number; state: string } | undefined;
  /** The dependency's answer, until it comes: a hung one is not asked again meanwhile. */
  let pending: Promise<unknown> | undefined;
  return async () => {
    if (last !== undefined && Date.now() - last.at < REUSE_MS) return last.state;
    pending ??= check().finally(() => (pending = undefined));
    const state = await within(pending, READY_TIMEOUT_MS).then(
      () => 'ok',
      (error: unknown) => {
        if (last?.state === 'ok' || last === undefined) log(`Readiness: ${name} is down`, error);
        return `down: ${reasonOf(error)}`;
      },
    );
    last = { at: Date.now(), state };
    return state;
  };
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0]!.slice(0, 120);
}

// Compared as digests, so that neither the time taken nor a length mismatch says how much of a
// guess was right.
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function tokenMatches(authorization: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}
