/**
 * What a browser's push service and the browser do with a push message, in node:crypto only (no
 * code shared with the sender, so the emulator checks the sender independently):
 * - a subscription's keys: a P-256 key pair and a 16-byte auth secret (RFC 8291 §2);
 * - decrypting an `aes128gcm` body (RFC 8188 records, RFC 8291 key derivation);
 * - verifying a VAPID JWT (RFC 8292: ES256 over the `t` token with the `k` key).
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';

export interface SubscriptionKeys {
  /** Uncompressed public point (65 bytes). */
  publicKey: Buffer;
  privateKey: Buffer;
  auth: Buffer;
}

export function makeSubscriptionKeys(): SubscriptionKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { publicKey: ecdh.getPublicKey(), privateKey: ecdh.getPrivateKey(), auth: randomBytes(16) };
}

const hkdf = (salt: Buffer, ikm: Buffer, info: Buffer, length: number) => Buffer.from(hkdfSync('sha256', ikm, salt, info, length));

export class DecryptError extends Error {}

/** The plaintext of an aes128gcm body sent to the holder of `keys`; throws DecryptError. */
export function decryptAes128gcm(body: Buffer, keys: SubscriptionKeys): Buffer {
  if (body.length < 21) throw new DecryptError('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (rs < 18) throw new DecryptError(`record size ${rs} is below 18`);
  if (idlen !== 65) throw new DecryptError(`keyid must be the sender's 65-byte public key (RFC 8291 §4), got ${idlen} bytes`);
  const senderKey = body.subarray(21, 21 + idlen);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(keys.privateKey);
  let secret: Buffer;
  try {
    secret = ecdh.computeSecret(senderKey);
  } catch {
    throw new DecryptError("the keyid is not a P-256 public key");
  }
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), keys.publicKey, senderKey]);
  const ikm = hkdf(keys.auth, secret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const records = body.subarray(21 + idlen);
  if (records.length === 0) throw new DecryptError('no record');
  const out: Buffer[] = [];
  for (let seq = 0, at = 0; at < records.length; seq++, at += rs) {
    const record = records.subarray(at, Math.min(at + rs, records.length));
    if (record.length < 17) throw new DecryptError(`record ${seq} is too short`);
    const iv = Buffer.from(nonce);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, iv);
    decipher.setAuthTag(record.subarray(record.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    } catch {
      throw new DecryptError(`record ${seq} does not authenticate (wrong keys or a corrupt body)`);
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    const last = at + rs >= records.length;
    if (end < 0 || plain[end] !== (last ? 2 : 1)) throw new DecryptError(`record ${seq} has no valid padding delimiter`);
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out);
}

export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
  /** base64url of the key that signed (the `k` parameter). */
  publicKey: string;
}

/** Parses `vapid t=<jwt>, k=<key>` and verifies the JWT; an error message names what is wrong. */
export function verifyVapid(header: string | undefined, nowSeconds: number): { ok: true; claims: VapidClaims } | { ok: false; error: string } {
  if (!header) return { ok: false, error: 'missing Authorization (vapid t=…, k=…)' };
  const m = /^vapid\s+(.*)$/i.exec(header.trim());
  if (!m) return { ok: false, error: 'Authorization scheme must be vapid (RFC 8292)' };
  const params = new Map<string, string>();
  for (const part of m[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const t = params.get('t');
  const k = params.get('k');
  if (!t || !k) return { ok: false, error: 'vapid needs both t and k' };
  const parts = t.split('.');
  if (parts.length !== 3) return { ok: false, error: 't is not a JWT' };
  let head: { alg?: string; typ?: string };
  let claims: { aud?: unknown; exp?: unknown; sub?: unknown };
  try {
    head = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, error: 'the JWT header or claims are not JSON' };
  }
  if (head.alg !== 'ES256') return { ok: false, error: `JWT alg must be ES256, got ${String(head.alg)}` };
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return { ok: false, error: 'k must be an uncompressed P-256 public key' };
  let key;
  try {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    return { ok: false, error: 'k is not a point on P-256' };
  }
  const signature = Buffer.from(parts[2]!, 'base64url');
  const valid = signature.length === 64 && verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) return { ok: false, error: 'the JWT signature does not verify with k' };
  if (typeof claims.aud !== 'string') return { ok: false, error: 'the JWT has no aud' };
  if (typeof claims.exp !== 'number') return { ok: false, error: 'the JWT has no exp' };
  if (claims.exp <= nowSeconds) return { ok: false, error: 'the JWT has expired' };
  if (claims.exp > nowSeconds + 24 * 3600 + 60) return { ok: false, error: 'the JWT exp is more than 24 hours ahead (RFC 8292 §2)' };
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) return { ok: false, error: 'the JWT sub must be a mailto: or https: URI' };
  return { ok: true, claims: { aud: claims.aud, exp: claims.exp, sub: claims.sub, publicKey: point.toString('base64url') } };
}
