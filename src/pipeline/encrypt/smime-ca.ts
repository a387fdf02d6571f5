// The internal CA: a self-signed RSA CA made on first need, which issues S/MIME
// certificates (signing and encryption, extendedKeyUsage emailProtection) for internal
// senders who have none. Its key is sealed with the master key like every other.
// Recipients trust our signatures once they trust this CA's certificate (exported with
// "hermes encryption keys export --ca").
import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { Db } from '../../db/database.ts';
import { internalCaRow, openPrivateMaterial, saveEncryptionKey, type EncryptionKeyRow } from '../../db/repos/encryption-keys.ts';
import type { MasterKey } from '../../keys/master-key.ts';
import { parseCertificates, certFingerprint, certificatesToPem, certPublicKeyPem, type Certificate } from './smime-cert.ts';
import { smimeCrypto, toArrayBuffer } from './smime-crypto.ts';
import { newRsaKeyPair, type RsaKeyPair } from './key-pool.ts';

const DAY = 86_400_000;
const SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
export const CA_VALIDITY_DAYS = 3650;
export const ISSUED_VALIDITY_DAYS = 730;

function der(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function importPair(k: RsaKeyPair): Promise<CryptoKeyPair> {
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', der(k.privateKeyPem), SIGNING, true, ['sign'])) as unknown as CryptoKey;
  const publicKey = (await webcrypto.subtle.importKey('spki', der(k.publicKeyPem), SIGNING, true, ['verify'])) as unknown as CryptoKey;
  return { privateKey, publicKey };
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // positive
  return b.toString('hex');
}

export interface InternalCa {
  cert: Certificate;
  privateKeyPem: string;
  row: EncryptionKeyRow;
}

/** The internal CA, made now if it does not exist yet (3072-bit RSA, ten years). */
export async function ensureInternalCa(db: Db, mk: MasterKey, name: string, now = new Date()): Promise<InternalCa> {
  const existing = await internalCaRow(db, now.getTime());
  if (existing) return { cert: parseCertificates(existing.public_material)[0]!, privateKeyPem: openPrivateMaterial(mk, existing)!, row: existing };
  const { x509 } = smimeCrypto();
  const pair = await newRsaKeyPair(3072);
  const keys = await importPair(pair);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Hermes Internal CA (${name})`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(pair.publicKeyPem)),
    ],
  });
  const row = await saveEncryptionKey(db, mk, {
    address: '',
    kind: 'smime',
    fingerprint: certFingerprint(cert),
    subject: cert.subject,
    issuer: cert.issuer,
    publicMaterial: certificatesToPem([cert]),
    privateMaterial: pair.privateKeyPem,
    isCa: true,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    source: 'internal-ca',
    now: now.getTime(),
  });
  return { cert, privateKeyPem: pair.privateKeyPem, row };
}

/** Issues and stores a certificate for an internal address, with the key pair given (from the pool). */
export async function issueCertificate(db: Db, mk: MasterKey, ca: InternalCa, address: string, key: RsaKeyPair, now = new Date()): Promise<EncryptionKeyRow> {
  const { x509 } = smimeCrypto();
  const caKeys = await importPair({ privateKeyPem: ca.privateKeyPem, publicKeyPem: certPublicKeyPem(ca.cert) });
  const subjectKeys = await importPair(key);
  const notAfter = new Date(Math.min(now.getTime() + ISSUED_VALIDITY_DAYS * DAY, ca.cert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${address.replace(/[,+="\\<>;#]/g, '')}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey: subjectKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
      new x509.SubjectAlternativeNameExtension([{ type: 'email', value: address }]),
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(key.publicKeyPem)),
      new x509.AuthorityKeyIdentifierExtension(keyIdentifier(certPublicKeyPem(ca.cert))),
    ],
  });
  return saveEncryptionKey(db, mk, {
    address,
    kind: 'smime',
    fingerprint: certFingerprint(cert),
    subject: cert.subject,
    issuer: cert.issuer,
    publicMaterial: certificatesToPem([cert, ca.cert]),
    privateMaterial: key.privateKeyPem,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    source: 'internal-ca',
    now: now.getTime(),
  });
}

/**
 * RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. (Computed here: the
 * library's own helper trips over two copies of its ASN.1 schema package.)
 */
function keyIdentifier(spkiPem: string): string {
  const spki = createPublicKey(spkiPem).export({ format: 'der', type: 'spki' });
  const seq = asn1js.fromBER(toArrayBuffer(spki)).result as asn1js.Sequence;
  const bits = seq.valueBlock.value[1] as asn1js.BitString;
  return createHash('sha1').update(Buffer.from(bits.valueBlock.valueHexView)).digest('hex');
}
