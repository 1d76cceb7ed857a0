import rrulePkg from 'rrule';
import { DomainError } from './errors.ts';
import { fromWall, toWall } from './zoned-time.ts';

const { RRule } = rrulePkg;

/**
 * Occurrences of a series, computed in the series' own time zone.
 *
 * The `rrule` library expands rules correctly on plain calendar arithmetic, but its TZID mode
 * depends on the host's zone and shifts local times across DST. So it runs on "floating" wall
 * time (UTC fields = local fields, where no DST exists), and each wall time is turned into an
 * instant in the IANA zone afterwards: a weekly 19:00 Europe/Berlin meetup stays at 19:00 local
 * in summer and winter. UNTIL (an instant, as RFC 5545 requires with a zoned DTSTART) is turned
 * into local wall time first, so an UNTIL written in any offset means the same moment.
 */
export interface RecurrenceSpec {
  /** RRULE value without `RRULE:`, e.g. `FREQ=WEEKLY;BYDAY=TU`. */
  rrule: string;
  /** The first occurrence (occurrence zero), an instant. */
  dtstart: Date;
  timeZone: string;
}

const FREQS = new Set([RRule.DAILY, RRule.WEEKLY, RRule.MONTHLY, RRule.YEARLY]);
const DAY = '(MO|TU|WE|TH|FR|SA|SU)';
const list = (item: string) => new RegExp(`^${item}(,${item})*$`);
const NUMBERS = list('[+-]?\\d{1,3}');
/** The syntax of each part meetflow accepts; `rrule` itself lets some garbage through (e.g. `BYDAY=XX`). */
const PARTS: Record<string, RegExp> = {
  FREQ: /^[A-Z]+$/, INTERVAL: /^\d{1,4}$/, COUNT: /^\d{1,5}$/, UNTIL: /^\d{8}(T\d{6}Z?)?$/,
  BYDAY: list(`([+-]?\\d{1,2})?${DAY}`), WKST: new RegExp(`^${DAY}$`),
  BYMONTHDAY: NUMBERS, BYMONTH: NUMBERS, BYSETPOS: NUMBERS, BYYEARDAY: NUMBERS, BYWEEKNO: NUMBERS,
};

/**
 * Bounds that keep every computation from input finite. Series start within these years, UNTIL
 * too, and a rule must match within FIRST_MATCH_YEARS of its start (a rule that yields nothing is
 * refused). The `rrule` library walks from DTSTART on every call, and past the range asked for
 * until it finds a match: `walkUntil` cuts that walk.
 */
export const EARLIEST = new Date('2000-01-01T00:00:00Z');
export const LATEST = new Date('2200-01-01T00:00:00Z');
const FIRST_MATCH_YEARS = 30;
const MAX_COUNT = 10_000;
const MAX_INTERVAL = 1000;
const YEAR_MS = 365.25 * 86_400_000;

const invalidRule = (rule: string, why: string) => new DomainError('validation_failed', `invalid rrule: ${why}`, { rrule: rule });

/** Parses and checks a rule; a rule meetflow cannot honour is a 400 with the reason. */
export function parseRule(rule: string) {
  const text = rule.replace(/^RRULE:/i, '').trim();
  const invalid = (why: string) => invalidRule(rule, why);
  for (const part of text.split(';')) {
    const [key, value = ''] = part.toUpperCase().split('=');
    const syntax = PARTS[key];
    if (!syntax) throw invalid(`${key} is not supported (times come from the series start)`);
    if (!syntax.test(value)) throw invalid(`${key}=${value} is not valid`);
  }
  let options;
  try {
    options = RRule.parseString(text);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (options.freq === undefined || !FREQS.has(options.freq)) throw invalid('FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY');
  if (options.count != null && options.until != null) throw invalid('COUNT and UNTIL cannot both be set');
  if (options.interval != null && (options.interval < 1 || options.interval > MAX_INTERVAL)) throw invalid(`INTERVAL must be 1..${MAX_INTERVAL}`);
  if (options.count != null && (options.count < 1 || options.count > MAX_COUNT)) throw invalid(`COUNT must be 1..${MAX_COUNT}`);
  if (options.until && (options.until < EARLIEST || options.until >= LATEST)) throw invalid(`UNTIL must lie in ${EARLIEST.getUTCFullYear()}..${LATEST.getUTCFullYear() - 1}`);
  return options;
}

/**
 * Checks a whole series before it is stored: its start within the sane years, and a rule that
 * matches at least once within FIRST_MATCH_YEARS of it (bounded work, at most ~11k days).
 */
export function checkSeries(spec: RecurrenceSpec): void {
  const invalid = (why: string) => new DomainError('validation_failed', why, { rrule: spec.rrule });
  if (!(spec.dtstart >= EARLIEST && spec.dtstart < LATEST)) {
    throw invalid(`a series starts in ${EARLIEST.getUTCFullYear()}..${LATEST.getUTCFullYear() - 1}`);
  }
  const wallStart = toWall(spec.dtstart, spec.timeZone);
  const wallEnd = new Date(wallStart.getTime() + FIRST_MATCH_YEARS * YEAR_MS);
  const [first] = ruleFor(spec, wallEnd).between(wallStart, wallEnd, true, (_d, i) => i < 1);
  if (!first) throw invalidRule(spec.rrule, `the rule yields no occurrence within ${FIRST_MATCH_YEARS} years of the start`);
}

/** The shortest length of each period the library steps by (FREQ), in days. */
const PERIOD_DAYS: Record<number, number> = { [RRule.YEARLY]: 365, [RRule.MONTHLY]: 28, [RRule.WEEKLY]: 7, [RRule.DAILY]: 1 };

/**
 * Cuts `rule`'s walk once it is past wall time `end`. The library steps period by period (FREQ ×
 * INTERVAL) from DTSTART until a period yields a match beyond the range asked for, or up to the
 * year 9999: FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 walked 3 million days, 15 s of the event loop for
 * one request. It reads `options.interval` twice per period and stops when it reads 0, so after
 * the periods up to `end` (counted generously) it reads 0: nothing at or before `end` is lost.
 * `cut()` tells whether the walk was cut (the test that the library still reads it so).
 */
export function walkUntil(rule: InstanceType<typeof RRule>, end: Date) {
  const { freq, interval, dtstart } = rule.options;
  const periods = Math.max(0, Math.ceil((end.getTime() - dtstart.getTime()) / (PERIOD_DAYS[freq] * 86_400_000 * interval))) + 2;
  const budget = 2 * periods + 1; // and one read before the first period
  let reads = 0;
  Object.defineProperty(rule.options, 'interval', { get: () => (++reads > budget ? 0 : interval) });
  return { rule, cut: () => reads > budget };
}

/**
 * Where the walk may start for a range from wall time `from`: a daily rule without COUNT yields the
 * same days from any of its days on, so its walk starts at the last of them before `from` (a series
 * of 2000 asked for 2199 walked 73,000 days from DTSTART: 0.7 s of the event loop). Any other walks
 * from DTSTART: at most ~10,000 periods up to LATEST, ~0.1 s.
 */
function walkStart(options: { freq?: number; count?: number | null; interval?: number }, dtstart: Date, from: Date): Date {
  if (options.freq !== RRule.DAILY || options.count || from <= dtstart) return dtstart;
  const step = (options.interval ?? 1) * 86_400_000;
  return new Date(dtstart.getTime() + Math.floor((from.getTime() - dtstart.getTime()) / step) * step);
}

/** The rule on floating wall time (see above), walking from near wall time `walkFrom` and cut past `walkEnd`. */
function ruleFor(spec: RecurrenceSpec, walkEnd: Date, walkFrom?: Date) {
  const options = parseRule(spec.rrule);
  const dtstart = toWall(spec.dtstart, spec.timeZone);
  return walkUntil(new RRule({
    ...options,
    dtstart: walkFrom ? walkStart(options, dtstart, walkFrom) : dtstart,
    until: options.until ? toWall(options.until, spec.timeZone) : null,
    tzid: null,
  }), walkEnd).rule;
}

/**
 * Occurrence starts (instants) with `from <= start < to`, in order, at most `limit`. DTSTART is
 * always occurrence zero (RFC 5545), even when it does not match the rule.
 */
export function occurrences(spec: RecurrenceSpec, range: { from: Date; to: Date; limit?: number }): Date[] {
  // A day of margin on each side: the floating window and the zoned range differ by the offset.
  const wallFrom = new Date(toWall(range.from, spec.timeZone).getTime() - 86_400_000);
  // Never past LATEST: the library iterates up to the window's end however far it is.
  const wallTo = new Date(Math.min(toWall(range.to, spec.timeZone).getTime() + 86_400_000, LATEST.getTime()));
  const rule = ruleFor(spec, wallTo, wallFrom);
  const limit = range.limit ?? 1000;
  const out: Date[] = [];
  const take = (instant: Date) => {
    if (instant >= range.from && instant < range.to && out.length < limit) out.push(instant);
  };
  if (spec.dtstart >= range.from) take(spec.dtstart);
  rule.between(new Date(Math.max(wallFrom.getTime(), rule.options.dtstart.getTime())), wallTo, true, (wall) => {
    const instant = fromWall(wall, spec.timeZone);
    if (instant.getTime() !== spec.dtstart.getTime()) take(instant);
    return out.length < limit;
  });
  return out.sort((a, b) => a.getTime() - b.getTime());
}

/** Whether `instant` is an occurrence start of the series. */
export function isOccurrence(spec: RecurrenceSpec, instant: Date): boolean {
  return occurrences(spec, { from: instant, to: new Date(instant.getTime() + 1), limit: 1 }).length === 1;
}

/** The last occurrence start when the rule ends (COUNT or UNTIL), or null for an endless rule. */
export function lastOccurrence(spec: RecurrenceSpec): Date | null {
  // Never past LATEST, like the occurrences themselves.
  const rule = ruleFor(spec, LATEST);
  if (!rule.options.count && !rule.options.until) return null;
  const all = rule.all((_d, i) => i < MAX_COUNT); // bounded even for a rule stored before the limits
  const last = all.at(-1);
  return last ? new Date(Math.max(fromWall(last, spec.timeZone).getTime(), spec.dtstart.getTime())) : spec.dtstart;
}
