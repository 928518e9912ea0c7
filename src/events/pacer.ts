/**
 * Spreads bursts of continuations over turns of the event loop: at most `perTurn` calls of `pace()`
 * resolve in one turn, the rest in the turns after, in order. A shared result that thousands of
 * subscribers wait for resolves them all at once; paced, their sends cannot hold up requests,
 * timers and other sockets for longer than a batch takes.
 *
 * Waiters sit in one queue and each turn releases the next batch, so a burst of N costs N
 * promises (an earlier version re-queued every waiter each turn: N²/perTurn of them).
 */
export function pacer(perTurn: number): () => Promise<void> {
  const resolved = Promise.resolve();
  let waiting: (() => void)[] = [];
  let head = 0;
  let used = 0;
  let scheduled = false;

  const turn = () => {
    scheduled = false;
    used = 0;
    const end = Math.min(waiting.length, head + perTurn);
    // Released in a microtask after this callback, so still in this turn: they use its batch.
    for (; head < end; head++) {
      used++;
      waiting[head]!();
    }
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
    if (used > 0) schedule();
  };
  // Each turn that let anything through is followed by one that starts the count afresh.
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(turn);
  };

  return () => {
    schedule();
    if (head === waiting.length && used < perTurn) {
      used++;
      return resolved;
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
}
