import { localDate, toWall } from './zoned-time.ts';

/** `weekly-meetup-k3x9qa-2026-06-02-1900`: one slug per series and local start, stable across retries. */
export function occurrenceSlug(seriesSlug: string, start: Date, timeZone: string): string {
  const hhmm = toWall(start, timeZone).toISOString().slice(11, 16).replace(':', '');
  return `${seriesSlug}-${localDate(start, timeZone)}-${hhmm}`;
}
