// CMS SignedData for S/MIME (RFC 5652 5, RFC 8551 2.5): detached signatures over a MIME
// entity with RSA PKCS#1 v1.5 and SHA-256, the signer's certificate and its chain
// included, signed attributes contentType, signingTime, messageDigest and
// smimeCapabilities. Verification of signed mail from others (detached or opaque).
import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { Certificate } from './smime-cert.ts';
import { HASH_BY_OID, OID, smimeCrypto, toArrayBuffer } from './smime-crypto.ts';

export interface Signer {
  cert: Certificate;
  /** The signer's certificate chain (intermediates, the CA), included in the signature. */
  chain: readonly Certificate[];
  privateKeyPem: string;
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** A detached SignedData over `content`, in a ContentInfo, DER. */
export async function signDetached(content: Buffer, s: Signer, now = new Date()): Promise<Buffer> {
  const { pkijs } = smimeCrypto();
  const cert = pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(s.cert.rawData)));
  const chain = s.chain.map((c) => pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(c.rawData))));
  const digest = createHash('sha256').update(content).digest();
  const capabilities = new asn1js.Sequence({
    value: [OID.aes256cbc, OID.aes128cbc].map((oid) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid })] })),
  });
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
            new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: now })] }),
            new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: toArrayBuffer(digest) })] }),
            new pkijs.Attribute({ type: OID.smimeCapabilities, values: [capabilities] }),
          ],
        }),
      }),
    ],
    certificates: [cert, ...chain],
  });
  const key = await webcrypto.subtle.importKey('pkcs8', pemToDer(s.privateKeyPem), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  await signed.sign(key as unknown as CryptoKey, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: OID.signedData, content: signed.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false));
}

export interface SignatureCheck {
  /** The signature over the content verifies with the signer's certificate. */
  valid: boolean;
  reason: string;
  signer: Certificate | null;
  /** Every certificate the signature carries (for the chain check). */
  certificates: Certificate[];
  /** For an opaque signature: the signed content. */
  content: Buffer | null;
}

/**
 * Checks a SignedData: detached over `content`, or opaque (its own content). Only the
 * signature and the signer certificate are checked here; whether the certificate is
 * trusted is checkCertificate's question.
 */
export async function verifySignature(der: Buffer, content: Buffer | null): Promise<SignatureCheck> {
  const { pkijs, x509 } = smimeCrypto();
  let sd: InstanceType<typeof pkijs.SignedData>;
  try {
    const ci = pkijs.ContentInfo.fromBER(toArrayBuffer(der));
    if (ci.contentType !== OID.signedData) return { valid: false, reason: `not CMS SignedData (${ci.contentType})`, signer: null, certificates: [], content: null };
    sd = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    return { valid: false, reason: `unreadable signature: ${(err as Error).message}`, signer: null, certificates: [], content: null };
  }
  const certificates = (sd.certificates ?? []).filter((c): c is InstanceType<typeof pkijs.Certificate> => c instanceof pkijs.Certificate).map((c) => new x509.X509Certificate(c.toSchema().toBER(false)));
  const eContent = sd.encapContentInfo.eContent ? Buffer.from(sd.encapContentInfo.eContent.getValue()) : null;
  const data = content ?? eContent;
  if (!data) return { valid: false, reason: 'detached signature without its content', signer: null, certificates, content: null };
  const info = sd.signerInfos[0];
  if (!info) return { valid: false, reason: 'no signer in the signature', signer: null, certificates, content: null };
  if (!HASH_BY_OID[info.digestAlgorithm.algorithmId]) return { valid: false, reason: `unsupported digest ${info.digestAlgorithm.algorithmId}`, signer: null, certificates, content: null };
  try {
    const res = await sd.verify({ signer: 0, data: toArrayBuffer(data), extendedMode: true, checkChain: false });
    const signer = res.signerCertificate ? new x509.X509Certificate(res.signerCertificate.toSchema().toBER(false)) : null;
    if (!res.signatureVerified) return { valid: false, reason: 'the signature does not match the content', signer, certificates, content: eContent };
    return { valid: true, reason: 'signature verified', signer, certificates, content: eContent };
  } catch (err) {
    const e = err as { message?: string; signerCertificate?: unknown };
    return { valid: false, reason: `signature check failed: ${e.message ?? String(err)}`, signer: null, certificates, content: eContent };
  }
}
