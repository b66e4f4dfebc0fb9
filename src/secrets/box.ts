/**
 * Encryption at rest for stored credentials (Mixpanel service-account secrets, API secrets).
 * AES-256-GCM under a master key from `RIVULET_MASTER_KEY`, or from a key file generated under the
 * data dir at first start (mode 0600). A sealed value is `v1 | iv(12) | tag(16) | ciphertext`;
 * the version byte leaves room for key rotation.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomic, DataDirError } from '../storage/index.js';

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

/** What a generated key file holds: 32 random bytes, base64 (44 characters), and a newline. */
const KEY_FILE_SHAPE = /^[A-Za-z0-9+/]{43}=$/;

/**
 * The master key: from the environment, else the key file under the data dir, created at first
 * start atomically (temp file, fsync, link into place: never half-written, never replacing one
 * another process created first). A key file that is there but empty or not a generated key stops
 * the start: a key is never derived from an empty file (a full disk at first start left one).
 */
export async function loadSecretBox(masterKey: string | undefined, dataDir: string): Promise<SecretBox> {
  if (masterKey) return SecretBox.fromString(masterKey);
  const file = join(dataDir, 'master.key');
  const existing = await readKeyFile(file);
  if (existing !== undefined) return SecretBox.fromString(existing);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const material = randomBytes(32).toString('base64');
  // Another process created it first: use theirs.
  if (!(await createFileAtomic(file, `${material}\n`))) return SecretBox.fromString((await readKeyFile(file))!);
  return SecretBox.fromString(material);
}

/** The key file's key, undefined if there is none; an empty or corrupt one stops with the fix. */
export async function readKeyFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DataDirError(`cannot read the master key ${file}: ${(err as Error).message}. Fix its owner or mode (0600, owned by the user running Rivulet).`);
  }
  const material = text.trim();
  if (!KEY_FILE_SHAPE.test(material) && !/^[0-9a-f]{64}$/i.test(material)) {
    throw new DataDirError(
      `the master key ${file} is ${material ? 'corrupt (not the 44-character base64 key Rivulet writes)' : 'empty'}. ` +
        'Restore it from your backup: the stored Mixpanel credentials are encrypted with it. ' +
        'If no credential was ever stored (a first start that failed), delete the file and start again to generate a new one. ' +
        'Or set RIVULET_MASTER_KEY.',
    );
  }
  return material;
}

/** The last four characters, for display; never more. */
export function hint(secret: string): string {
  return secret.length <= 4 ? '****' : `…${secret.slice(-4)}`;
}
