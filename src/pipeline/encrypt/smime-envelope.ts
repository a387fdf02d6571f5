// CMS EnvelopedData (RFC 5652 6, RFC 8551): the content encrypted once with a random
// AES-256-CBC key, that key encrypted to each recipient's RSA key, either RSAES-OAEP
// (SHA-256, RFC 8017/4055) or RSAES-PKCS1-v1_5. pkijs encodes the structures;
// node:crypto does the primitives (WebCrypto has no PKCS#1 v1.5 encryption).
import { constants, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import { certSpki, type Certificate } from './smime-cert.ts';
import { HASH_BY_OID, OID, smimeCrypto, toArrayBuffer } from './smime-crypto.ts';

export type KeyTransport = 'rsa-oaep' | 'rsa-pkcs1';

export interface EnvelopeRecipient {
  cert: Certificate;
  transport: KeyTransport;
}

const CONTENT_CIPHERS: Record<string, { name: string; keyBytes: number }> = {
  [OID.aes256cbc]: { name: 'aes-256-cbc', keyBytes: 32 },
  [OID.aes192cbc]: { name: 'aes-192-cbc', keyBytes: 24 },
  [OID.aes128cbc]: { name: 'aes-128-cbc', keyBytes: 16 },
  [OID.desEde3cbc]: { name: 'des-ede3-cbc', keyBytes: 24 },
};

function sha256Alg() {
  const { pkijs } = smimeCrypto();
  return new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 });
}

/** EnvelopedData in a ContentInfo, DER. */
export function envelope(content: Buffer, recipients: readonly EnvelopeRecipient[]): Buffer {
  const { pkijs } = smimeCrypto();
  if (!recipients.length) throw new Error('no recipients to encrypt to');
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv);
  const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
  const infos = recipients.map(({ cert, transport }) => {
    const pc = pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(cert.rawData)));
    const key = createPublicKey({ key: certSpki(cert), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`certificate "${cert.subject}" has a ${key.asymmetricKeyType} key; S/MIME encryption here needs RSA`);
    const oaep = transport === 'rsa-oaep';
    const encryptedKey = publicEncrypt(oaep ? { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } : { key, padding: constants.RSA_PKCS1_PADDING }, cek);
    const algorithm = oaep
      ? new pkijs.AlgorithmIdentifier({
          algorithmId: OID.rsaesOaep,
          algorithmParams: new pkijs.RSAESOAEPParams({ hashAlgorithm: sha256Alg(), maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.mgf1, algorithmParams: sha256Alg().toSchema() }) }).toSchema(),
        })
      : new pkijs.AlgorithmIdentifier({ algorithmId: OID.rsaEncryption, algorithmParams: new asn1js.Null() });
    return new pkijs.RecipientInfo({
      variant: 1,
      value: new pkijs.KeyTransRecipientInfo({
        version: 0,
        rid: new pkijs.IssuerAndSerialNumber({ issuer: pc.issuer, serialNumber: pc.serialNumber }),
        keyEncryptionAlgorithm: algorithm,
        encryptedKey: new asn1js.OctetString({ valueHex: toArrayBuffer(encryptedKey) }),
      }),
    });
  });
  const env = new pkijs.EnvelopedData({
    version: 0,
    recipientInfos: infos,
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: OID.data,
      contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.aes256cbc, algorithmParams: new asn1js.OctetString({ valueHex: toArrayBuffer(iv) }) }),
      encryptedContent: new asn1js.OctetString({ valueHex: toArrayBuffer(encrypted) }),
      disableSplit: true,
    }),
  });
  const ci = new pkijs.ContentInfo({ contentType: OID.envelopedData, content: env.toSchema() });
  return Buffer.from(ci.toSchema().toBER(false));
}

/** A private key the gateway holds, with its certificate (to find its RecipientInfo). */
export interface DecryptionKey {
  cert: Certificate;
  privateKeyPem: string;
}

export interface Opened {
  content: Buffer;
  /** The certificate whose key opened it. */
  cert: Certificate;
  keyTransport: KeyTransport;
  contentCipher: string;
}

/** The recipient identifiers of an EnvelopedData, to see whose keys could open it. */
export function parseEnvelope(der: Buffer): InstanceType<ReturnType<typeof smimeCrypto>['pkijs']['EnvelopedData']> {
  const { pkijs } = smimeCrypto();
  const ci = pkijs.ContentInfo.fromBER(toArrayBuffer(der));
  if (ci.contentType !== OID.envelopedData) throw new Error(`not CMS EnvelopedData (content type ${ci.contentType})`);
  return new pkijs.EnvelopedData({ schema: ci.content });
}

function ridMatches(rid: unknown, cert: Certificate): boolean {
  const { pkijs } = smimeCrypto();
  const pc = pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(cert.rawData)));
  if (rid instanceof pkijs.IssuerAndSerialNumber) {
    return rid.issuer.isEqual(pc.issuer) && rid.serialNumber.isEqual(pc.serialNumber);
  }
  if (rid instanceof asn1js.OctetString) {
    const ski = pc.extensions?.find((e) => e.extnID === '2.5.29.14');
    const value = ski?.parsedValue as asn1js.OctetString | undefined;
    return !!value && Buffer.from(value.valueBlock.valueHexView).equals(Buffer.from(rid.valueBlock.valueHexView));
  }
  return false;
}

/** Opens EnvelopedData with the first key that has a RecipientInfo in it; null if none has. */
export function openEnvelope(der: Buffer, keys: readonly DecryptionKey[]): Opened | null {
  const env = parseEnvelope(der);
  for (const ri of env.recipientInfos) {
    if (ri.variant !== 1) continue; // key transport only (RSA)
    const kt = ri.value as InstanceType<ReturnType<typeof smimeCrypto>['pkijs']['KeyTransRecipientInfo']>;
    const key = keys.find((k) => ridMatches(kt.rid, k.cert));
    if (!key) continue;
    const eci = env.encryptedContentInfo;
    const alg = CONTENT_CIPHERS[eci.contentEncryptionAlgorithm.algorithmId];
    if (!alg) throw new Error(`unsupported content encryption ${eci.contentEncryptionAlgorithm.algorithmId}`);
    const iv = Buffer.from((eci.contentEncryptionAlgorithm.algorithmParams as asn1js.OctetString).valueBlock.valueHexView);
    const encryptedKey = Buffer.from(kt.encryptedKey.valueBlock.valueHexView);
    const transport: KeyTransport = kt.keyEncryptionAlgorithm.algorithmId === OID.rsaesOaep ? 'rsa-oaep' : 'rsa-pkcs1';
    const cek = transport === 'rsa-oaep' ? unwrapOaep(key.privateKeyPem, encryptedKey, kt.keyEncryptionAlgorithm.algorithmParams) : unwrapPkcs1(key.privateKeyPem, encryptedKey, alg.keyBytes);
    const d = createDecipheriv(alg.name, cek, iv);
    let content: Buffer;
    try {
      content = Buffer.concat([d.update(Buffer.from(eci.getEncryptedContent())), d.final()]);
    } catch {
      throw new Error('the message cannot be decrypted with the key it names (damaged, or not really for this key)');
    }
    return { content, cert: key.cert, keyTransport: transport, contentCipher: alg.name };
  }
  return null;
}

function unwrapOaep(pem: string, encryptedKey: Buffer, params: unknown): Buffer {
  const { pkijs } = smimeCrypto();
  // RFC 4055: absent parameters mean SHA-1 with MGF1-SHA-1.
  let hash = 'sha1';
  if (params instanceof asn1js.Sequence) {
    const p = new pkijs.RSAESOAEPParams({ schema: params });
    hash = HASH_BY_OID[p.hashAlgorithm.algorithmId] ?? '';
    if (!hash) throw new Error(`unsupported RSA-OAEP hash ${p.hashAlgorithm.algorithmId}`);
  }
  return privateDecrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, encryptedKey);
}

/**
 * RSAES-PKCS1-v1_5 key unwrapping (Node refuses the padding mode for decryption since
 * CVE-2023-46809): raw RSA, then the padding checked without branching on secrets.
 * A bad padding yields a random key (implicit rejection, RFC 8551 / Bleichenbacher), so
 * the content decryption fails the same way for every kind of forgery.
 */
function unwrapPkcs1(pem: string, encryptedKey: Buffer, keyBytes: number): Buffer {
  const key = createPrivateKey(pem);
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, encryptedKey);
  const fallback = randomBytes(keyBytes);
  const k = em.length;
  // EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) || 0x00 || M, with M keyBytes long.
  const sep = k - keyBytes - 1;
  let good = (em[0] === 0 ? 1 : 0) & (em[1] === 2 ? 1 : 0) & (em[sep] === 0 ? 1 : 0) & (sep >= 10 ? 1 : 0);
  for (let i = 2; i < sep; i++) good &= em[i] !== 0 ? 1 : 0;
  const m = em.subarray(k - keyBytes);
  const out = Buffer.alloc(keyBytes);
  for (let i = 0; i < keyBytes; i++) out[i] = good ? m[i]! : fallback[i]!;
  return out;
}
