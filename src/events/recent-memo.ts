/**
 * Values made once per event and key however many subscribers ask, and kept for the `kept` events
 * asked about last: an event's subscribers deliver it within moments of each other, and one that
 * lags further behind makes the value again, which is only slower. `K` is what tells events
 * apart: the event itself, or its position when copies of one event read at different times must
 * share (positions are only unique within one database, so then one memo per instance).
 */
export function recentMemo<K, V>(kept: number): (event: K, key: string, make: () => V) => V {
  const byEvent = new Map<K, Map<string, V>>();
  return (event, key, make) => {
    let byKey = byEvent.get(event);
    if (byKey === undefined) {
      byEvent.set(event, (byKey = new Map<string, V>()));
      // Maps iterate in insertion order: the first key is the oldest event's.
      if (byEvent.size > kept) byEvent.delete(byEvent.keys().next().value!);
    }
    let value = byKey.get(key);
    if (value === undefined) byKey.set(key, (value = make()));
    return value;
  };
}
