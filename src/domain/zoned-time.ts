/**
 * Wall-clock time in an IANA time zone, via Intl (no tz database of our own). A "wall" value is
 * a Date whose UTC fields are the local fields (the "floating" time of RFC 5545).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall time of `instant` in `timeZone`, as a floating Date. */
export function toWall(instant: Date, timeZone: string): Date {
  const p = Object.fromEntries(formatter(timeZone).formatToParts(instant).map((x) => [x.type, x.value]));
  return new Date(Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second, instant.getUTCMilliseconds()));
}

const offsetAt = (ms: number, timeZone: string) => toWall(new Date(ms), timeZone).getTime() - ms;

/**
 * The instant at which `timeZone` shows the wall time `wall`. RFC 5545 §3.3.5: a wall time in a
 * DST overlap is the first of the two instants; one in a DST gap is read with the offset before
 * the gap (02:30 on a spring-forward night becomes 03:30 local).
 */
export function fromWall(wall: Date, timeZone: string): Date {
  const w = wall.getTime();
  const before = offsetAt(w - 86_400_000, timeZone);
  const after = offsetAt(w + 86_400_000, timeZone);
  const candidates = [...new Set([w - before, w - after])]
    .filter((t) => toWall(new Date(t), timeZone).getTime() === w)
    .sort((a, b) => a - b);
  return new Date(candidates[0] ?? w - before);
}

/** `YYYY-MM-DD` of the instant in the zone. */
export function localDate(instant: Date, timeZone: string): string {
  return toWall(instant, timeZone).toISOString().slice(0, 10);
}
