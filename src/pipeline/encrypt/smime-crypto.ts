// pkijs and @peculiar/x509 work on WebCrypto: both are given Node's implementation once,
// here, before any S/MIME code runs.
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';
import * as x509 from '@peculiar/x509';

let ready = false;

export function smimeCrypto(): { pkijs: typeof pkijs; x509: typeof x509 } {
  if (!ready) {
    pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    ready = true;
  }
  return { pkijs, x509 };
}

/** OIDs used across the S/MIME code. */
export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  desEde3cbc: '1.2.840.113549.3.7',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  smimeCapabilities: '1.2.840.113549.1.9.15',
  emailAddress: '1.2.840.113549.1.9.1',
  emailProtection: '1.3.6.1.5.5.7.3.4',
} as const;

export const HASH_BY_OID: Record<string, string> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

export function toArrayBuffer(b: Buffer | Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
