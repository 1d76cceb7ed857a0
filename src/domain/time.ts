const zones = new Set(Intl.supportedValuesOf('timeZone'));

/** An IANA time zone name this runtime knows (UTC and aliases such as America/Argentina/Buenos_Aires included). */
export function isTimeZone(name: string): boolean {
  if (zones.has(name) || name === 'UTC') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name.includes('/');
  } catch {
    return false;
  }
}

/** The shape of an IANA name, as a pattern the API documents (the zone must also exist). */
export const TIME_ZONE_PATTERN = /^(UTC|[A-Za-z_]{1,20}(\/[A-Za-z0-9_+-]{1,30}){1,2})$/;
