// Inbound S/MIME, before the filter stages: mail encrypted to an internal recipient
// whose private key the gateway holds is decrypted, so the spam, malware and attachment
// checks (and the recipient) see its content; signed mail has its signature checked,
// and a valid signer certificate of the sender is kept for encrypting replies
// (harvesting). Runs after the verify stage, which has read the bytes as received.
import type { Settings } from '../../config/settings.ts';
import type { MessageContext, Stage } from '../context.ts';
import { joinEntity, splitEntity } from './mime-entity.ts';
import { openEnvelope } from './smime-envelope.ts';
import { smimeShape } from './smime-mime.ts';
import { verifySignature } from './smime-sign.ts';
import type { SmimeKeyring } from './smime-keyring.ts';
import { fromAddress } from './encrypt-stage.ts';

export interface SmimeInboundOptions {
  keyring: SmimeKeyring;
  settings: () => Settings;
  now?: () => Date;
}

export function smimeInboundStage(o: SmimeInboundOptions): Stage {
  const now = o.now ?? (() => new Date());
  return {
    name: 'smime-inbound',
    async run(ctx: MessageContext) {
      if (ctx.client.trusted) return;
      const s = o.settings();
      if (!s['encryption.decryptInbound'] && !s['encryption.harvest']) return;
      const { outer, entity } = splitEntity(ctx.body);
      let shape = smimeShape(entity);
      if (shape.kind === 'none') return;
      const at = now();
      let current = entity;
      if (shape.kind === 'enveloped') {
        if (!s['encryption.decryptInbound']) return;
        const recipients = ctx.recipients.map((r) => r.address);
        try {
          const keys = await o.keyring.decryptionKeys(recipients);
          const opened = keys.length ? openEnvelope(shape.der, keys) : null;
          if (!opened) {
            ctx.trace('smime-inbound', { decrypted: false, reason: keys.length ? 'encrypted to none of the keys the gateway holds for its recipients' : 'the gateway holds no S/MIME key of its recipients' });
            return;
          }
          current = opened.content.includes('\r\n') ? opened.content : Buffer.from(opened.content.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
          replaceMessage(ctx, joinEntity(outer, current));
          ctx.prepend.push(`X-Hermes-Encryption: decrypted S/MIME (${opened.contentCipher}, ${opened.keyTransport}) for ${opened.cert.subject}\r\n`);
          ctx.trace('smime-inbound', { decrypted: true, cipher: opened.contentCipher, keyTransport: opened.keyTransport, key: opened.cert.subject });
        } catch (err) {
          // Undecryptable mail is delivered as it came: the recipient's client may open it.
          ctx.trace('smime-inbound', { decrypted: false, error: (err as Error).message });
          return;
        }
        shape = smimeShape(current);
      }
      if (shape.kind === 'signed' || shape.kind === 'opaque-signed') {
        const check = shape.kind === 'signed' ? await verifySignature(shape.signature, shape.content) : await verifySignature(shape.der, null);
        const sender = fromAddress(ctx.body);
        const detail: Record<string, unknown> = { signature: check.valid ? 'valid' : 'invalid', reason: check.reason, signer: check.signer?.subject ?? null };
        if (check.valid && check.signer && s['encryption.harvest'] && sender) {
          try {
            const h = await o.keyring.harvest(check.signer, check.certificates, sender, at);
            detail.harvest = h.stored ? `stored certificate ${h.fingerprint?.slice(0, 16)} for ${sender}` : `not stored: ${h.reason}`;
          } catch (err) {
            detail.harvest = `failed: ${(err as Error).message}`;
          }
        }
        ctx.trace('smime-inbound', detail);
      }
    },
  };
}

/** The decrypted message replaces the received one for every later stage (verification has read the received bytes). */
function replaceMessage(ctx: MessageContext, message: Buffer): void {
  ctx.body = message;
  (ctx as { original: Buffer }).original = message;
}
