/**
 * Spreads bursts of continuations over turns of the event loop: at most `perTurn` calls of `pace()`
 * resolve in one turn, the rest in the turns after, in order. A shared result that thousands of
 * subscribers wait for resolves them all at once; paced, their sends cannot hold up requests,
 * timers and other sockets for longer than a batch takes.
 */
export function pacer(perTurn: number): () => Promise<void> {
  let used = 0;
  let nextTurn: Promise<void> | undefined;
  const resolved = Promise.resolve();
  const pace = (): Promise<void> => {
    if (used === 0) {
      // Runs before the callbacks that `nextTurn` releases, so each turn starts counting afresh.
      setImmediate(() => {
        used = 0;
        nextTurn = undefined;
      });
    }
    if (++used <= perTurn) return resolved;
    nextTurn ??= new Promise((resolve) => setImmediate(resolve));
    return nextTurn.then(pace);
  };
  return pace;
}
