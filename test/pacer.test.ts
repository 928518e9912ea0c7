import { pacer } from '../src/events/pacer';
import { countTurns } from './helpers/turns';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('pacer', () => {
  it('lets at most its batch through in one turn of the event loop, and the rest in order after', async () => {
    const turns = countTurns();

    const pace = pacer(200);
    const released: { i: number; turn: number }[] = [];
    await Promise.all(Array.from({ length: 450 }, (_, i) => pace().then(() => released.push({ i, turn: turns.turn }))));
    turns.stop();

    const perTurn = new Map<number, number>();
    for (const { turn } of released) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    expect([...perTurn.values()]).toEqual([200, 200, 50]);
    expect([...perTurn.keys()]).toEqual([0, 1, 2]);
    expect(released.map(({ i }) => i)).toEqual(Array.from({ length: 450 }, (_, i) => i));
  });

  it('starts each turn with a fresh batch', async () => {
    const pace = pacer(2);
    let released = 0;
    for (let turn = 0; turn < 3; turn++) {
      await Promise.all([pace(), pace()]).then(() => (released += 2));
      await nextTurn();
    }
    expect(released).toBe(6);
  });
});
