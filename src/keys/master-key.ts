// The install's master key encrypts secrets at rest (DKIM private keys, smarthost
// passwords, quarantined mail). It is created once by `hermes init` and never
// overwritten: losing it makes every encrypted secret unreadable.
import { randomBytes, createCipheriv, createDecipheriv } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Version byte so the format can change without guessing. */
const FORMAT_V1 = 1;

export function ensureMasterKey(file: string): { created: boolean } {
  if (existsSync(file)) return { created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // 'wx' fails if the file appeared meanwhile: a key is never overwritten.
  writeFileSync(file, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return { created: true };
}

export function loadMasterKey(file: string): MasterKey {
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`master key ${file} is damaged (expected ${KEY_BYTES} bytes)`);
  return new MasterKey(key);
}

/** AES-256-GCM with a random IV per secret: version | iv | tag | ciphertext. */
export class MasterKey {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  encrypt(plain: Buffer, associatedData?: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    if (associatedData) cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
  }

  decrypt(sealed: Buffer, associatedData?: string): Buffer {
    if (sealed[0] !== FORMAT_V1) throw new Error('unknown secret format');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    if (associatedData) decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  }

  encryptString(plain: string, associatedData?: string): string {
    return this.encrypt(Buffer.from(plain, 'utf8'), associatedData).toString('base64');
  }

  decryptString(sealed: string, associatedData?: string): string {
    return this.decrypt(Buffer.from(sealed, 'base64'), associatedData).toString('utf8');
  }
}
