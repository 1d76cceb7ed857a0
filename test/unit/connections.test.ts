import { describe, expect, it } from 'vitest';
import { clientOf } from '../../src/api/connections.ts';

describe('clientOf (whose share a connection counts against)', () => {
  it('is the IPv4 address, also when it comes IPv4-mapped', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    const one = clientOf('2001:db8:a:b:1::1');
    expect(one).toBe('2001:db8:a:b::/64');
    for (const same of ['2001:0db8:000a:000b:ffff:ffff:ffff:ffff', '2001:db8:a:b::', '2001:DB8:A:B::9%eth0']) expect(clientOf(same), same).toBe(one);
    expect(clientOf('2001:db8:a:c::1')).not.toBe(one);
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
  });
});
