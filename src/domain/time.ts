/** The canonical IANA time zone names this runtime knows, and UTC. */
export const TIME_ZONES: [string, ...string[]] = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
const zones = new Set(TIME_ZONES);

/** A canonical IANA time zone name (what the API documents as an enum). */
export function isTimeZone(name: string): boolean {
  return zones.has(name);
}
