/**
 * Sets `key` in a map that keeps at most `max` entries: written last, it is the newest (Map order
 * is write order), and the oldest written leaves first. Caches of what hostile input names (DIDs,
 * keys) use it so that many names cannot grow them without bound.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
