import { isAsyncIterable, type Plugin } from '@envelop/core';
import type { ExecutionResult } from 'graphql';
import { unauthenticated } from '../graphql/errors';
import type { Context } from './context';

/** setTimeout's longest delay; a token may live longer, so the timer is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs `action` at `time` (ms since the epoch), however far away. */
export function at(time: number, action: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = time - Date.now();
    timer = delay > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(action, Math.max(delay, 0));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

/**
 * Ends every subscription when the token that opened it expires: one last result with an
 * UNAUTHENTICATED error, then the end of the stream, and nothing in between. A token is checked
 * when an operation starts; this is what keeps a long-lived stream (SSE or WebSocket) from
 * outliving it. (A WebSocket is also closed with 4403 at that moment: see serveWebSockets.)
 */
export function useTokenExpiry(): Plugin<Context> {
  return {
    onSubscribe: ({ args }) => ({
      onSubscribeResult: ({ result, setResult }) => {
        const expiresAt = args.contextValue.tokenExpiresAt;
        if (expiresAt !== undefined && isAsyncIterable(result)) setResult(endAt(result, expiresAt));
      },
    }),
  };
}

/** `source`, until `expiresAt`: then one UNAUTHENTICATED result, even while waiting for the next event, and the end. */
function endAt(source: AsyncIterable<ExecutionResult>, expiresAt: number): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let state: 'open' | 'expired' | 'ended' = 'open';
  const expire = () => {
    if (state !== 'open') return;
    state = 'expired';
    // Ends a pending next() of the source, which then answers with the error.
    void iterator.return?.();
  };
  const expiry = at(expiresAt, expire);
  const end = (): IteratorResult<ExecutionResult, undefined> => {
    state = 'ended';
    expiry.cancel();
    return { value: undefined, done: true };
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (state === 'open') {
        const next = await iterator.next();
        if (Date.now() >= expiresAt) expire();
        if (state === 'open') return next.done === true ? end() : next;
      }
      if (state === 'expired') {
        end();
        return {
          value: { errors: [unauthenticated('The access token has expired; sign in again and resubscribe.')] },
          done: false,
        };
      }
      return end();
    },
    async return() {
      if (state === 'open') await iterator.return?.();
      return end();
    },
  };
}
