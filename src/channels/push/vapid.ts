/**
 * A workspace's VAPID key pair (RFC 8292; docs/reference/push.md §1): a P-256 key made on first
 * use, its private half sealed with the master key. Every process on the database reads the same
 * pair: the first to insert wins and the others read its row.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { SecretBox } from '../../secrets/index.js';
import type { Queryable } from '../../storage/index.js';

export interface VapidKeys {
  /** base64url of the uncompressed point (65 bytes): the `applicationServerKey` browsers subscribe with. */
  publicKey: string;
  /** base64url of the 32-byte private scalar. */
  privateKey: string;
}

/** A new P-256 key pair in the encodings the Push API and the `web-push` library use. */
export function generateVapidKeys(): VapidKeys {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' }) as { x: string; y: string; d: string };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return { publicKey: point.toString('base64url'), privateKey: jwk.d };
}

export async function vapidKeys(q: Queryable, box: SecretBox, workspaceId: string): Promise<VapidKeys> {
  const read = async () => (await q.query<{ public_key: string; private_key_sealed: Buffer }>('SELECT public_key, private_key_sealed FROM push_vapid_keys WHERE workspace_id = $1', [workspaceId])).rows[0];
  let row = await read();
  if (!row) {
    const made = generateVapidKeys();
    await q.query('INSERT INTO push_vapid_keys (workspace_id, public_key, private_key_sealed) VALUES ($1, $2, $3) ON CONFLICT (workspace_id) DO NOTHING', [workspaceId, made.publicKey, box.seal(made.privateKey)]);
    row = (await read())!;
  }
  return { publicKey: row.public_key, privateKey: box.open(row.private_key_sealed) };
}
