/**
 * Sets `key` in `map`; a new key first drops the oldest entry when the map already holds `max`
 * (Map keeps insertion order). For caches and per-key state that an app could grow without end.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max && !map.has(key)) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
