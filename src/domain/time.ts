const zones = new Set(Intl.supportedValuesOf('timeZone'));

/** An IANA time zone name this runtime knows (UTC included). */
export function isTimeZone(name: string): boolean {
  if (zones.has(name) || name === 'UTC') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name.includes('/');
  } catch {
    return false;
  }
}
