// PGP/MIME (RFC 3156) over raw RFC 5322 bytes: encrypting (multipart/encrypted, signed
// inside with the combined method of section 6.2 when a signing key is given), signing
// (multipart/signed with a detached signature), and the inbound direction: decrypting
// and verifying. The message's own header fields stay outside; the MIME entity
// (Content-* fields and body) is what gets encrypted or signed.
import * as openpgp from 'openpgp';
import {
  bytesToCrlf,
  contentEntity,
  contentTypeOf,
  field,
  joinMessage,
  multipartParts,
  newBoundary,
  outerFields,
  splitMessage,
  toCrlf,
  type HeaderField,
} from './mime-parts.ts';
import type { PgpKey, PgpPrivateKey } from './pgp-keys.ts';

export class PgpMimeError extends Error {}

/** Header fields that carry the wrapper; a message's own are replaced. */
function wrapperFields(msg: Buffer, contentType: string, extra: HeaderField[] = []): HeaderField[] {
  return [...outerFields(msg), ...extra, field('MIME-Version', '1.0'), field('Content-Type', contentType)];
}

/**
 * Encrypts the message's MIME entity to every key (one per recipient of this copy),
 * signed by `signingKey` when given. The result is multipart/encrypted; header fields
 * other than Content-* stay readable (RFC 3156 protects the body, not the envelope).
 */
export async function encryptPgpMime(msg: Buffer, o: { encryptionKeys: PgpKey[]; signingKey?: PgpPrivateKey | null }): Promise<Buffer> {
  if (!o.encryptionKeys.length) throw new PgpMimeError('no encryption key');
  const entity = contentEntity(msg);
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: entity }),
    encryptionKeys: o.encryptionKeys,
    ...(o.signingKey ? { signingKeys: o.signingKey } : {}),
    format: 'armored',
  });
  const boundary = newBoundary('pgp-encrypted');
  const body = [
    'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    toCrlf(armored).replace(/\r\n$/, ''),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return joinMessage(wrapperFields(msg, `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`), Buffer.from(body, 'latin1'));
}

/**
 * Signs the message's MIME entity: multipart/signed, the entity as the first part byte
 * for byte, a detached SHA-256 signature over exactly those bytes (CRLF line ends, as
 * RFC 3156 5 requires) as the second.
 */
export async function signPgpMime(msg: Buffer, o: { signingKey: PgpPrivateKey }): Promise<Buffer> {
  const entity = contentEntity(msg);
  const signature = await openpgp.sign({
    message: await openpgp.createMessage({ binary: entity }),
    signingKeys: o.signingKey,
    detached: true,
    format: 'armored',
    config: { preferredHashAlgorithm: openpgp.enums.hash.sha256 },
  });
  const boundary = newBoundary('pgp-signed');
  const body = Buffer.concat([
    Buffer.from(`This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--${boundary}\r\n`, 'latin1'),
    entity,
    Buffer.from(
      [
        '',
        `--${boundary}`,
        'Content-Type: application/pgp-signature; name="signature.asc"',
        'Content-Description: OpenPGP digital signature',
        'Content-Disposition: attachment; filename="signature.asc"',
        '',
        toCrlf(signature).replace(/\r\n$/, ''),
        `--${boundary}--`,
        '',
      ].join('\r\n'),
      'latin1',
    ),
  ]);
  return joinMessage(wrapperFields(msg, `multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="${boundary}"`), body);
}

/** The message is PGP/MIME encrypted (RFC 3156 4). */
export function isPgpEncrypted(msg: Buffer): boolean {
  const ct = contentTypeOf(msg);
  return ct.type === 'multipart/encrypted' && ct.params.protocol?.toLowerCase() === 'application/pgp-encrypted' && !!ct.params.boundary;
}

/** The message is PGP/MIME signed (RFC 3156 5). */
export function isPgpSigned(msg: Buffer): boolean {
  const ct = contentTypeOf(msg);
  return ct.type === 'multipart/signed' && ct.params.protocol?.toLowerCase() === 'application/pgp-signature' && !!ct.params.boundary;
}

export interface PgpSignatureResult {
  /** The signature verified against one of the keys given. */
  valid: boolean;
  /** Key id of the signer, upper-case hex. */
  keyId: string;
  /** Fingerprint of the key that verified it (null when no key we hold matched). */
  fingerprint: string | null;
  /** Why it did not verify. */
  error?: string;
}

export interface DecryptedPgpMime {
  /** The message with the encrypted part replaced by the entity it carried. */
  message: Buffer;
  /** Signatures inside the encrypted data (combined method), checked against `verificationKeys`. */
  signatures: PgpSignatureResult[];
  /** Fingerprint of the key that decrypted it. */
  decryptedWith: string | null;
}

/** The armoured (or binary) OpenPGP message of a multipart/encrypted body. */
function encryptedPayload(msg: Buffer): Buffer {
  const ct = contentTypeOf(msg);
  const parts = multipartParts(splitMessage(msg).body, ct.params.boundary!);
  if (parts.length < 2) throw new PgpMimeError('multipart/encrypted without its two parts');
  const control = splitMessage(parts[0]!);
  if (contentTypeOf(parts[0]!).type !== 'application/pgp-encrypted' || !/Version:\s*1/i.test(control.body.toString('latin1'))) {
    throw new PgpMimeError('the first part is not the application/pgp-encrypted "Version: 1" part');
  }
  return splitMessage(parts[1]!).body;
}

/**
 * Decrypts a PGP/MIME message with the recipients' private keys. The result keeps the
 * outer header fields and puts the decrypted entity in place of the wrapper; bare LF
 * line ends (content encrypted by a command-line user) become CRLF.
 */
export async function decryptPgpMime(msg: Buffer, o: { decryptionKeys: PgpPrivateKey[]; verificationKeys?: PgpKey[] }): Promise<DecryptedPgpMime> {
  if (!isPgpEncrypted(msg)) throw new PgpMimeError('not a PGP/MIME encrypted message');
  const payload = encryptedPayload(msg);
  const text = payload.toString('latin1');
  let message: openpgp.Message<Uint8Array | string>;
  try {
    message = text.includes('-----BEGIN PGP MESSAGE-----')
      ? await openpgp.readMessage({ armoredMessage: text.slice(text.indexOf('-----BEGIN PGP MESSAGE-----')) })
      : await openpgp.readMessage({ binaryMessage: new Uint8Array(payload) });
  } catch (err) {
    throw new PgpMimeError(`unreadable OpenPGP message: ${(err as Error).message}`);
  }
  const recipientIds = new Set(message.getEncryptionKeyIDs().map((k) => k.toHex()));
  const keys = o.decryptionKeys.filter((k) => k.getKeys().some((sub) => recipientIds.has(sub.getKeyID().toHex())));
  if (!keys.length) throw new PgpMimeError('encrypted to none of the keys we hold');
  let result;
  try {
    result = await openpgp.decrypt({ message, decryptionKeys: keys, verificationKeys: o.verificationKeys ?? [], format: 'binary' });
  } catch (err) {
    throw new PgpMimeError(`cannot decrypt: ${(err as Error).message}`);
  }
  const entity = bytesToCrlf(Buffer.from(result.data as Uint8Array));
  const decryptedWith = keys[0]!.getFingerprint().toUpperCase();
  const signatures = await Promise.all(result.signatures.map((s) => signatureResult(s, o.verificationKeys ?? [])));
  const inner = splitMessage(entity);
  return { message: joinMessage([...outerFields(msg), field('MIME-Version', '1.0'), ...inner.fields], inner.body), signatures, decryptedWith };
}

async function signatureResult(s: openpgp.VerifyMessageResult['signatures'][number], keys: PgpKey[]): Promise<PgpSignatureResult> {
  const keyId = s.keyID.toHex().toUpperCase();
  const owner = keys.find((k) => k.getKeys().some((sub) => sub.getKeyID().toHex().toUpperCase() === keyId));
  try {
    await s.verified;
    return { valid: true, keyId, fingerprint: owner?.getFingerprint().toUpperCase() ?? null };
  } catch (err) {
    return { valid: false, keyId, fingerprint: owner?.getFingerprint().toUpperCase() ?? null, error: (err as Error).message };
  }
}

/** Verifies a multipart/signed PGP/MIME message against the keys given. */
export async function verifyPgpMime(msg: Buffer, o: { verificationKeys: PgpKey[] }): Promise<PgpSignatureResult[]> {
  if (!isPgpSigned(msg)) throw new PgpMimeError('not a PGP/MIME signed message');
  const ct = contentTypeOf(msg);
  const parts = multipartParts(splitMessage(msg).body, ct.params.boundary!);
  if (parts.length < 2) throw new PgpMimeError('multipart/signed without its two parts');
  const signed = parts[0]!;
  const sigBody = splitMessage(parts[1]!).body.toString('latin1');
  let signature: openpgp.Signature;
  try {
    signature = sigBody.includes('-----BEGIN PGP SIGNATURE-----')
      ? await openpgp.readSignature({ armoredSignature: sigBody.slice(sigBody.indexOf('-----BEGIN PGP SIGNATURE-----')) })
      : await openpgp.readSignature({ binarySignature: new Uint8Array(splitMessage(parts[1]!).body) });
  } catch (err) {
    throw new PgpMimeError(`unreadable signature: ${(err as Error).message}`);
  }
  // RFC 3156 5: the signature covers the part with CRLF line ends.
  const result = await openpgp.verify({ message: await openpgp.createMessage({ binary: bytesToCrlf(signed) }), signature, verificationKeys: o.verificationKeys, format: 'binary' });
  return Promise.all(result.signatures.map((s) => signatureResult(s, o.verificationKeys)));
}

/** The key ids a PGP/MIME message is encrypted to (to find which private keys to load). */
export async function encryptedToKeyIds(msg: Buffer): Promise<string[]> {
  const text = encryptedPayload(msg).toString('latin1');
  const message = text.includes('-----BEGIN PGP MESSAGE-----')
    ? await openpgp.readMessage({ armoredMessage: text.slice(text.indexOf('-----BEGIN PGP MESSAGE-----')) })
    : await openpgp.readMessage({ binaryMessage: new Uint8Array(encryptedPayload(msg)) });
  return message.getEncryptionKeyIDs().map((k) => k.toHex().toUpperCase());
}
