/**
 * The proxies whose `X-Forwarded-For` is believed: addresses, CIDR ranges, or `unix` for
 * connections through a UNIX socket. Anyone else could write any address there, so for them
 * the header is ignored (it would let a guesser pick a fresh throttle key per attempt).
 * @module
 */
import { BlockList, isIP } from 'node:net';

export interface TrustedProxies {
  /** Whether a connection from `remoteAddress` (undefined: a UNIX socket) is a trusted proxy. */
  trusts(remoteAddress: string | undefined): boolean;
}

export const NO_TRUSTED_PROXIES: TrustedProxies = { trusts: () => false };

/** `::ffff:127.0.0.1` is the IPv4 peer 127.0.0.1 on a dual-stack socket. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

/**
 * Parses `entries` (`unix`, `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`); a bad one throws a
 * RangeError naming it.
 */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  let unix = false;
  for (const entry of entries) {
    if (entry === 'unix') {
      unix = true;
      continue;
    }
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) ||
      bits > maxBits
    ) {
      throw new RangeError(
        `not a trusted proxy: ${JSON.stringify(entry)} (an IP address, a CIDR range such as 10.0.0.0/8, or unix)`,
      );
    }
    list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    trusts(remoteAddress) {
      if (remoteAddress === undefined) {
        return unix;
      }
      const address = unmapped(remoteAddress);
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
