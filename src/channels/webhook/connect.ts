/**
 * An HTTP agent that connects only where the address policy allows, checked on the address each
 * connection actually uses (no DNS rebinding between a check and the connection). A host given as
 * an IP literal never reaches `lookup`, so it is checked before the request (`checkUrlHost`).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import type { AddressPolicy } from './address-policy.js';

export class BlockedAddress extends Error {
  readonly code = 'E_BLOCKED_WEBHOOK_ADDRESS';
  constructor(readonly host: string, readonly address: string) {
    super(`${host} resolves to ${address}, an address webhooks may not reach`);
  }
}

export type Resolver = (host: string, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (host, cb) => dnsLookup(host, { all: true, verbatim: true }, cb);

/** A `lookup` for `net.connect` that resolves, refuses if any address is refused, else answers the first. */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver): LookupFunction {
  return ((host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolve(host, (err, addresses) => {
      if (err) return callback(err);
      const bad = addresses.find((a) => policy.refuses(a.address));
      if (bad) return callback(new BlockedAddress(host, bad.address));
      if (!addresses.length) return callback(Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' }));
      if (options?.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as LookupFunction;
}

/** Refuses an IP-literal host before any connection (names are checked at connect time). */
export function checkUrlHost(url: URL, policy: AddressPolicy): BlockedAddress | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && policy.refuses(host)) return new BlockedAddress(host, host);
  return undefined;
}

export function guardedAgent(policy: AddressPolicy, opts: { resolve?: Resolver; connections?: number; timeoutMs?: number } = {}): Agent {
  return new Agent({
    connect: { lookup: guardedLookup(policy, opts.resolve), timeout: 10_000 },
    connections: opts.connections ?? 64,
    headersTimeout: opts.timeoutMs ?? 90_000,
    bodyTimeout: opts.timeoutMs ?? 90_000,
  });
}
