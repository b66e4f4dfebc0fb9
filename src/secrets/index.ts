/**
 * Encryption at rest for stored credentials (Mixpanel service-account secrets, API secrets).
 * AES-256-GCM under a master key from `RIVULET_MASTER_KEY`, or from a key file generated under the
 * data dir at first start (mode 0600). A sealed value is `v1 | iv(12) | tag(16) | ciphertext`;
 * the version byte leaves room for key rotation.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const VERSION = 1;

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** A 32-byte key given as base64 or hex is used as is; any other string is hashed to 32 bytes. */
  static fromString(material: string): SecretBox {
    const trimmed = material.trim();
    if (/^[0-9a-f]{64}$/i.test(trimmed)) return new SecretBox(Buffer.from(trimmed, 'hex'));
    const b64 = Buffer.from(trimmed, 'base64');
    if (b64.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(trimmed)) return new SecretBox(b64);
    return new SecretBox(createHash('sha256').update(`rivulet-master-key:${trimmed}`).digest());
  }

  seal(plaintext: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer): string {
    if (sealed[0] !== VERSION || sealed.length < 29) throw new Error('unknown sealed-secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 13));
    decipher.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
  }

  sealJson(value: unknown): Buffer {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: Buffer): T {
    return JSON.parse(this.open(sealed)) as T;
  }

  /** A 32-byte key for one purpose (HKDF-SHA256 of the master key): signing secrets kept nowhere. */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `rivulet:${purpose}`, 32));
  }

  /**
   * What identifies the key without revealing it: an HMAC-SHA-256 of a constant under the key. The
   * database keeps it (src/secrets/identity.ts) so every process can tell it holds the same key.
   */
  checkValue(): Buffer {
    return createHmac('sha256', this.key).update('rivulet master key check v1').digest();
  }
}

/** The master key: from the environment, else the key file under the data dir (created if absent). */
export async function loadSecretBox(masterKey: string | undefined, dataDir: string): Promise<SecretBox> {
  if (masterKey) return SecretBox.fromString(masterKey);
  const file = join(dataDir, 'master.key');
  try {
    return SecretBox.fromString(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const material = randomBytes(32).toString('base64');
  try {
    await writeFile(file, `${material}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return SecretBox.fromString(await readFile(file, 'utf8'));
  }
  await chmod(file, 0o600);
  return SecretBox.fromString(material);
}

/** The last four characters, for display; never more. */
export function hint(secret: string): string {
  return secret.length <= 4 ? '****' : `…${secret.slice(-4)}`;
}
