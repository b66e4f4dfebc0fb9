/**
 * Which addresses a webhook may connect to (docs/reference/webhooks.md §2). A URL rendered from user
 * data must not reach inside the network: loopback, private, shared (CGNAT), link-local (cloud
 * metadata), unspecified, multicast and reserved addresses are refused unless the allowlist names
 * them. The check runs on the resolved address of every connection (see `guardedLookup`), so a
 * name that resolves to an inside address, or changes to one, is refused too.
 */
import { BlockList, isIP } from 'node:net';

const refused = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  refused.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 maps IPv4 into IPv6
  ['2002::', 16], // 6to4 embeds IPv4
] as const) {
  refused.addSubnet(net, prefix, 'ipv6');
}

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export class AddressPolicy {
  private readonly allowed = new Set<string>();

  /** `allow`: addresses (not names) opened despite the rules, e.g. `127.0.0.1` for tests and demos. */
  constructor(allow: readonly string[] = []) {
    for (const a of allow) this.allowed.add(unmapped(a.trim()).address.toLowerCase());
  }

  /** True when a connection to this IP address is refused. */
  refuses(address: string): boolean {
    const { address: a, family } = unmapped(address);
    if (this.allowed.has(a.toLowerCase())) return false;
    if (isIP(a) === 0) return true;
    return refused.check(a, family);
  }
}
