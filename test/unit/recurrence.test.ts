import { describe, expect, it } from 'vitest';
import rrulePkg from 'rrule';
import { checkSeries, isOccurrence, lastOccurrence, occurrences, parseRule, walkUntil } from '../../src/domain/recurrence.ts';
import { fromWall, toWall } from '../../src/domain/zoned-time.ts';

/** Local `YYYY-MM-DD HH:mm±hh:mm` of each occurrence in the series' zone. */
function local(instants: Date[], timeZone: string): string[] {
  return instants.map((i) => {
    const wall = toWall(i, timeZone);
    const offsetMin = Math.round((wall.getTime() - i.getTime()) / 60_000);
    const sign = offsetMin < 0 ? '-' : '+';
    const abs = Math.abs(offsetMin);
    const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    return `${wall.toISOString().slice(0, 10)} ${wall.toISOString().slice(11, 16)}${off}`;
  });
}

const FAR = { from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z') };

// Each vector: rule, first start (with its offset), zone, and the expected local starts written out by hand.
const vectors: { name: string; rrule: string; dtstart: string; tz: string; expect: string[]; range?: { from: string; to: string } }[] = [
  { name: 'weekly Tuesday 19:00 Berlin across spring DST', rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=4', dtstart: '2026-03-17T19:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-03-17 19:00+01:00', '2026-03-24 19:00+01:00', '2026-03-31 19:00+02:00', '2026-04-07 19:00+02:00'] },
  { name: 'weekly Tuesday 19:00 Berlin across autumn DST', rrule: 'FREQ=WEEKLY;COUNT=4', dtstart: '2026-10-13T19:00:00+02:00', tz: 'Europe/Berlin',
    expect: ['2026-10-13 19:00+02:00', '2026-10-20 19:00+02:00', '2026-10-27 19:00+01:00', '2026-11-03 19:00+01:00'] },
  { name: 'daily 09:00 New York across spring DST', rrule: 'FREQ=DAILY;COUNT=4', dtstart: '2026-03-06T09:00:00-05:00', tz: 'America/New_York',
    expect: ['2026-03-06 09:00-05:00', '2026-03-07 09:00-05:00', '2026-03-08 09:00-04:00', '2026-03-09 09:00-04:00'] },
  { name: 'weekly Sunday 10:00 New York across fall back', rrule: 'FREQ=WEEKLY;BYDAY=SU;COUNT=3', dtstart: '2026-10-25T10:00:00-04:00', tz: 'America/New_York',
    expect: ['2026-10-25 10:00-04:00', '2026-11-01 10:00-05:00', '2026-11-08 10:00-05:00'] },
  { name: '02:30 daily in the Berlin spring gap is read with the offset before it (03:30 local)', rrule: 'FREQ=DAILY;COUNT=3', dtstart: '2026-03-28T02:30:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-03-28 02:30+01:00', '2026-03-29 03:30+02:00', '2026-03-30 02:30+02:00'] },
  { name: '02:30 daily in the Berlin autumn overlap is the first of the two', rrule: 'FREQ=DAILY;COUNT=3', dtstart: '2026-10-24T02:30:00+02:00', tz: 'Europe/Berlin',
    expect: ['2026-10-24 02:30+02:00', '2026-10-25 02:30+02:00', '2026-10-26 02:30+01:00'] },
  { name: 'Sydney weekly Sunday 10:00 across the southern DST end', rrule: 'FREQ=WEEKLY;COUNT=3', dtstart: '2026-03-29T10:00:00+11:00', tz: 'Australia/Sydney',
    expect: ['2026-03-29 10:00+11:00', '2026-04-05 10:00+10:00', '2026-04-12 10:00+10:00'] },
  { name: 'Kolkata (+05:30, no DST) weekly', rrule: 'FREQ=WEEKLY;COUNT=2', dtstart: '2026-01-01T18:30:00+05:30', tz: 'Asia/Kolkata',
    expect: ['2026-01-01 18:30+05:30', '2026-01-08 18:30+05:30'] },
  { name: 'UNTIL in UTC equal to the last local start is inclusive', rrule: 'FREQ=WEEKLY;UNTIL=20260126T170000Z', dtstart: '2026-01-05T18:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-01-05 18:00+01:00', '2026-01-12 18:00+01:00', '2026-01-19 18:00+01:00', '2026-01-26 18:00+01:00'] },
  { name: 'UNTIL one second before the last start excludes it', rrule: 'FREQ=WEEKLY;UNTIL=20260126T165959Z', dtstart: '2026-01-05T18:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-01-05 18:00+01:00', '2026-01-12 18:00+01:00', '2026-01-19 18:00+01:00'] },
  { name: 'UNTIL on the next UTC day (Los Angeles 20:00 = 04:00Z)', rrule: 'FREQ=WEEKLY;UNTIL=20260117T040000Z', dtstart: '2026-01-02T20:00:00-08:00', tz: 'America/Los_Angeles',
    expect: ['2026-01-02 20:00-08:00', '2026-01-09 20:00-08:00', '2026-01-16 20:00-08:00'] },
  { name: 'COUNT on a monthly rule', rrule: 'FREQ=MONTHLY;COUNT=3', dtstart: '2026-01-15T12:00:00Z', tz: 'UTC',
    expect: ['2026-01-15 12:00+00:00', '2026-02-15 12:00+00:00', '2026-03-15 12:00+00:00'] },
  { name: 'monthly on the 31st skips shorter months', rrule: 'FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4', dtstart: '2026-01-31T18:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-01-31 18:00+01:00', '2026-03-31 18:00+02:00', '2026-05-31 18:00+02:00', '2026-07-31 18:00+02:00'] },
  { name: 'monthly on the last day (BYMONTHDAY=-1)', rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4', dtstart: '2026-01-31T09:00:00Z', tz: 'UTC',
    expect: ['2026-01-31 09:00+00:00', '2026-02-28 09:00+00:00', '2026-03-31 09:00+00:00', '2026-04-30 09:00+00:00'] },
  { name: 'last Friday of the month (BYDAY=-1FR)', rrule: 'FREQ=MONTHLY;BYDAY=-1FR;COUNT=4', dtstart: '2026-01-30T18:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-01-30 18:00+01:00', '2026-02-27 18:00+01:00', '2026-03-27 18:00+01:00', '2026-04-24 18:00+02:00'] },
  { name: 'second Tuesday (BYDAY=2TU) in New York across DST', rrule: 'FREQ=MONTHLY;BYDAY=2TU;COUNT=4', dtstart: '2026-01-13T19:00:00-05:00', tz: 'America/New_York',
    expect: ['2026-01-13 19:00-05:00', '2026-02-10 19:00-05:00', '2026-03-10 19:00-04:00', '2026-04-14 19:00-04:00'] },
  { name: 'last weekday of the month (BYSETPOS=-1)', rrule: 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=4', dtstart: '2026-01-30T17:00:00Z', tz: 'UTC',
    expect: ['2026-01-30 17:00+00:00', '2026-02-27 17:00+00:00', '2026-03-31 17:00+00:00', '2026-04-30 17:00+00:00'] },
  { name: 'first weekday of the month (BYSETPOS=1)', rrule: 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;COUNT=4', dtstart: '2026-01-01T08:00:00Z', tz: 'UTC',
    expect: ['2026-01-01 08:00+00:00', '2026-02-02 08:00+00:00', '2026-03-02 08:00+00:00', '2026-04-01 08:00+00:00'] },
  { name: 'leap day yearly (BYMONTH=2;BYMONTHDAY=29)', rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3', dtstart: '2024-02-29T12:00:00Z', tz: 'UTC',
    expect: ['2024-02-29 12:00+00:00', '2028-02-29 12:00+00:00', '2032-02-29 12:00+00:00'] },
  { name: 'leap day yearly from DTSTART alone skips non-leap years', rrule: 'FREQ=YEARLY;COUNT=2', dtstart: '2024-02-29T12:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2024-02-29 12:00+01:00', '2028-02-29 12:00+01:00'] },
  { name: 'every other Wednesday (INTERVAL=2)', rrule: 'FREQ=WEEKLY;INTERVAL=2;COUNT=3', dtstart: '2026-01-07T18:00:00Z', tz: 'UTC',
    expect: ['2026-01-07 18:00+00:00', '2026-01-21 18:00+00:00', '2026-02-04 18:00+00:00'] },
  { name: 'Monday, Wednesday and Friday', rrule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=5', dtstart: '2026-01-05T07:00:00Z', tz: 'UTC',
    expect: ['2026-01-05 07:00+00:00', '2026-01-07 07:00+00:00', '2026-01-09 07:00+00:00', '2026-01-12 07:00+00:00', '2026-01-14 07:00+00:00'] },
  { name: 'every third day across the end of February', rrule: 'FREQ=DAILY;INTERVAL=3;COUNT=4', dtstart: '2026-02-26T20:00:00Z', tz: 'UTC',
    expect: ['2026-02-26 20:00+00:00', '2026-03-01 20:00+00:00', '2026-03-04 20:00+00:00', '2026-03-07 20:00+00:00'] },
  { name: 'yearly Christmas', rrule: 'FREQ=YEARLY;COUNT=3', dtstart: '2026-12-25T17:00:00+01:00', tz: 'Europe/Berlin',
    expect: ['2026-12-25 17:00+01:00', '2027-12-25 17:00+01:00', '2028-12-25 17:00+01:00'] },
  { name: 'fourth Thursday of November (Thanksgiving)', rrule: 'FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=3', dtstart: '2026-11-26T15:00:00-05:00', tz: 'America/New_York',
    expect: ['2026-11-26 15:00-05:00', '2027-11-25 15:00-05:00', '2028-11-23 15:00-05:00'] },
  { name: 'the 15th and the last day of each month', rrule: 'FREQ=MONTHLY;BYMONTHDAY=15,-1;COUNT=4', dtstart: '2026-01-15T10:00:00Z', tz: 'UTC',
    expect: ['2026-01-15 10:00+00:00', '2026-01-31 10:00+00:00', '2026-02-15 10:00+00:00', '2026-02-28 10:00+00:00'] },
  { name: 'a DTSTART that does not match the rule is still occurrence zero', rrule: 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20260114T000000Z', dtstart: '2026-01-05T19:00:00Z', tz: 'UTC',
    expect: ['2026-01-05 19:00+00:00', '2026-01-06 19:00+00:00', '2026-01-13 19:00+00:00'] },
  { name: 'a window of an endless weekly rule (from inclusive, to exclusive)', rrule: 'FREQ=WEEKLY;BYDAY=TU', dtstart: '2026-01-06T19:00:00+01:00', tz: 'Europe/Berlin',
    range: { from: '2026-06-02T17:00:00Z', to: '2026-06-30T17:00:00Z' },
    expect: ['2026-06-02 19:00+02:00', '2026-06-09 19:00+02:00', '2026-06-16 19:00+02:00', '2026-06-23 19:00+02:00'] },
  { name: 'monthly 31st over two years is not cut at one year', rrule: 'FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20271231T235959Z', dtstart: '2026-01-31T12:00:00Z', tz: 'UTC',
    expect: ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31',
      '2027-01-31', '2027-03-31', '2027-05-31', '2027-07-31', '2027-08-31', '2027-10-31', '2027-12-31'].map((d) => `${d} 12:00+00:00`) },
];

describe('occurrences: recurrence vectors in the series time zone', () => {
  it('has at least 25 vectors', () => expect(vectors.length).toBeGreaterThanOrEqual(25));
  for (const v of vectors) {
    it(v.name, () => {
      const spec = { rrule: v.rrule, dtstart: new Date(v.dtstart), timeZone: v.tz };
      const range = v.range ? { from: new Date(v.range.from), to: new Date(v.range.to) } : FAR;
      expect(local(occurrences(spec, range), v.tz)).toEqual(v.expect);
    });
  }
});

describe('recurrence helpers', () => {
  const weekly = { rrule: 'FREQ=WEEKLY;BYDAY=TU', dtstart: new Date('2026-03-17T18:00:00Z'), timeZone: 'Europe/Berlin' };
  it('isOccurrence knows the rule, in local time across DST', () => {
    expect(isOccurrence(weekly, new Date('2026-03-31T17:00:00Z'))).toBe(true); // 19:00 CEST
    expect(isOccurrence(weekly, new Date('2026-03-31T18:00:00Z'))).toBe(false); // 20:00 CEST
    expect(isOccurrence(weekly, new Date('2026-04-01T17:00:00Z'))).toBe(false); // a Wednesday
  });
  it('lastOccurrence is the end of a finite rule and null for an endless one', () => {
    expect(lastOccurrence(weekly)).toBeNull();
    expect(lastOccurrence({ ...weekly, rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=3' })?.toISOString()).toBe('2026-03-31T17:00:00.000Z');
  });
  it('limit caps how many are returned', () => {
    expect(occurrences(weekly, { ...FAR, limit: 5 })).toHaveLength(5);
  });
  it('rejects rules it cannot honour, with the reason', () => {
    expect(() => parseRule('FREQ=HOURLY')).toThrow(/FREQ must be/);
    expect(() => parseRule('FREQ=DAILY;BYHOUR=9')).toThrow(/BYHOUR is not supported/);
    expect(() => parseRule('FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z')).toThrow(/COUNT and UNTIL/);
    expect(() => parseRule('banana')).toThrow(/invalid rrule/);
    expect(() => parseRule('FREQ=WEEKLY;BYDAY=XX')).toThrow(/invalid rrule/);
  });
  it('fromWall and toWall round-trip outside DST transitions', () => {
    const wall = new Date('2026-07-01T19:00:00Z');
    expect(fromWall(wall, 'Europe/Berlin').toISOString()).toBe('2026-07-01T17:00:00.000Z');
    expect(toWall(new Date('2026-07-01T17:00:00Z'), 'Europe/Berlin').toISOString()).toBe(wall.toISOString());
  });
});

describe('the library\'s walk is cut past the range asked for', () => {
  const { RRule } = rrulePkg;
  const NEVER = [ // each is refused, and none may walk to the year 9999 (3 million days: 15 s of the event loop)
    'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31;BYDAY=MO',
    'FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;BYSETPOS=1', 'FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=31',
    'FREQ=DAILY;INTERVAL=7;BYDAY=MO', // starts on a Friday: every 7th day is a Friday
  ];
  const start = { dtstart: new Date('2027-01-01T10:00:00Z'), timeZone: 'Europe/Berlin' };

  it('cuts a rule that never matches, and only past its end (the library still reads INTERVAL per period)', () => {
    const end = new Date('2040-01-01T00:00:00Z');
    const never = walkUntil(new RRule({ ...RRule.parseString(NEVER[0]), dtstart: start.dtstart }), end);
    expect(never.rule.all()).toEqual([]);
    expect(never.cut()).toBe(true);
    const leapDays = walkUntil(new RRule({ ...RRule.parseString('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29'), dtstart: start.dtstart }), end);
    expect(leapDays.rule.all().map((d) => d.getUTCFullYear())).toEqual([2028, 2032, 2036]);
    expect(leapDays.cut()).toBe(true);
  });

  it('refuses rules that never match, of every frequency', () => {
    for (const rrule of NEVER) expect(() => checkSeries({ ...start, rrule }), rrule).toThrow(/no occurrence within 30 years/);
  });

  it('keeps a first match far out, of every frequency, and occurrences far after the start', () => {
    // 29 February on a Monday: from March 2053, the first is in 2072.
    const late = { dtstart: new Date('2053-03-01T10:00:00Z'), timeZone: 'UTC' };
    for (const freq of ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']) {
      const spec = { ...late, rrule: `FREQ=${freq};BYMONTH=2;BYMONTHDAY=29;BYDAY=MO` };
      expect(() => checkSeries(spec), freq).not.toThrow();
      expect(occurrences(spec, { from: new Date('2053-03-02T00:00:00Z'), to: new Date('2080-01-01T00:00:00Z') }), freq)
        .toEqual([new Date('2072-02-29T10:00:00Z')]);
    }
    const daily = { ...start, rrule: 'FREQ=DAILY' };
    expect(occurrences(daily, { from: new Date('2199-12-30T00:00:00Z'), to: new Date('2300-01-01T00:00:00Z') }))
      .toEqual([new Date('2199-12-30T10:00:00Z'), new Date('2199-12-31T10:00:00Z')]);
    // A daily rule walks from its last day before the range: the same days as walking from its start.
    for (const rrule of ['FREQ=DAILY', 'FREQ=DAILY;INTERVAL=3', 'FREQ=DAILY;INTERVAL=7;BYMONTH=3,10', 'FREQ=DAILY;INTERVAL=2;BYDAY=MO,FR;UNTIL=20310101T000000Z']) {
      const spec = { ...start, rrule };
      const window = { from: new Date('2030-03-20T00:00:00Z'), to: new Date('2030-11-01T00:00:00Z') };
      const fromStart = occurrences(spec, { from: start.dtstart, to: window.to, limit: 10_000 }).filter((d) => d >= window.from);
      expect(fromStart.length, rrule).toBeGreaterThan(3);
      expect(occurrences(spec, window), rrule).toEqual(fromStart);
    }
    expect(lastOccurrence({ ...late, rrule: 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=2' })).toEqual(new Date('2112-02-29T10:00:00Z')); // 2100 is no leap year;
  });
});
