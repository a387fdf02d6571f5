// S/MIME as an encryption method (method.ts): a recipient qualifies with a usable
// certificate in the key store; the message's MIME entity is (signed with the sender's
// key, then) enveloped to every recipient's certificate. A sender without a key gets
// one from the internal CA in the background, for the next message.
import type { Settings } from '../../config/settings.ts';
import type { EncryptionMethod, EncryptInput, MethodResult } from './method.ts';
import { joinEntity, splitEntity } from './mime-entity.ts';
import { envelope, type KeyTransport } from './smime-envelope.ts';
import { envelopedEntity, signedEntity } from './smime-mime.ts';
import { signDetached } from './smime-sign.ts';
import { certSpki, type Certificate } from './smime-cert.ts';
import type { SmimeKeyring } from './smime-keyring.ts';

export interface SmimeMethodOptions {
  keyring: SmimeKeyring;
  settings: () => Settings;
  /** Is this address ours (a relay domain)? Only internal senders get certificates from the internal CA. */
  isInternal: (address: string) => boolean;
}

/** RSA-OAEP when the certificate's key says so (id-RSAES-OAEP), else the setting. */
function transportFor(cert: Certificate, preferred: KeyTransport): KeyTransport {
  return certSpki(cert).includes(Buffer.from('06092a864886f70d010107', 'hex')) ? 'rsa-oaep' : preferred;
}

export function smimeMethod(o: SmimeMethodOptions): EncryptionMethod {
  /** Signs `entity` for the sender, or says why not (and asks for a certificate when the CA may issue one). */
  async function signFor(sender: string, entity: Buffer, now: Date): Promise<{ entity: Buffer; detail: Record<string, unknown> }> {
    if (!sender) return { entity, detail: { signed: false, unsigned: 'the message has no From address' } };
    const s = await o.keyring.signer(sender, now);
    if ('signer' in s) {
      const der = await signDetached(entity, s.signer, now);
      return { entity: signedEntity(entity, der), detail: { signed: true, signer: s.fingerprint.slice(0, 16) } };
    }
    if (o.isInternal(sender) && o.settings()['encryption.internalCa']) {
      void o.keyring.requestCertificate(sender);
      return { entity, detail: { signed: false, unsigned: `${s.reason}; the internal CA is issuing one for the next message` } };
    }
    return { entity, detail: { signed: false, unsigned: s.reason } };
  }

  return {
    name: 'smime',
    async availableFor(recipient, now) {
      const u = await o.keyring.usable(recipient, 'encrypt', now);
      return u.ok ? { ok: true, detail: `S/MIME ${u.reason}` } : { ok: false, reason: u.reason };
    },
    async encrypt(input: EncryptInput): Promise<MethodResult> {
      const { outer, entity } = splitEntity(input.message);
      const certs: Array<{ address: string; cert: Certificate; fingerprint: string }> = [];
      for (const r of input.recipients) {
        const u = await o.keyring.usable(r, 'encrypt', input.now);
        if (!u.ok || !u.cert || !u.row) throw new Error(`no usable S/MIME certificate for ${r}: ${u.reason}`);
        certs.push({ address: r, cert: u.cert, fingerprint: u.row.fingerprint });
      }
      const preferred = o.settings()['encryption.smimeKeyTransport'];
      const signed = input.sign ? await signFor(input.sender, entity, input.now) : { entity, detail: { signed: false } };
      const recipients = certs.map((c) => ({ cert: c.cert, transport: transportFor(c.cert, preferred) }));
      const der = envelope(signed.entity, recipients);
      return {
        message: joinEntity(outer, envelopedEntity(der)),
        detail: {
          content: 'aes-256-cbc',
          keys: certs.map((c, i) => `${c.address} ${c.fingerprint.slice(0, 16)} ${recipients[i]!.transport}`),
          ...signed.detail,
        },
      };
    },
    async sign(input) {
      const { outer, entity } = splitEntity(input.message);
      const signed = await signFor(input.sender, entity, input.now);
      if (!signed.detail.signed) return { unsignedReason: String(signed.detail.unsigned) };
      return { message: joinEntity(outer, signed.entity), detail: signed.detail };
    },
  };
}

