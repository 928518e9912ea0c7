/**
 * Counts turns of the event loop from now until `stop()`: the first callback of each turn moves
 * `turn` on, so work that ran in the same turn reads the same number.
 */
export function countTurns(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let counting = true;
  const tick = () => {
    turn++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop: () => void (counting = false),
  };
}
