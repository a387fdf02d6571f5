// Inbound decryption, before the filter stages, so spam, malware, attachment and rule
// checks judge the content rather than ciphertext. Mail from outside to internal
// recipients whose private keys the gateway holds is decrypted by the first decryptor
// that recognises it (PGP/MIME here; S/MIME plugs in the same way), and is then
// delivered decrypted. Sender authentication already ran on the bytes as received.
//
// After decryption `ctx.original` and `ctx.body` are the decrypted message: the outer
// header fields (trace, DKIM, ARC) are kept as they came, the wrapper is replaced by
// the entity it carried.
import type { Settings } from '../../config/settings.ts';
import type { MessageContext, Stage } from '../context.ts';

export type DecryptOutcome =
  | { kind: 'not-mine' }
  | { kind: 'decrypted'; message: Buffer; detail: Record<string, unknown> }
  /** Recognised but not decrypted (no key held, damaged): the message goes on as it came. */
  | { kind: 'kept'; reason: string };

export interface InboundDecryptor {
  readonly name: string;
  /** Decrypts `message` for `recipients` (the internal ones) or says why not. Never throws. */
  decrypt(message: Buffer, recipients: string[]): Promise<DecryptOutcome>;
}

export interface DecryptStageOptions {
  decryptors: () => readonly InboundDecryptor[];
  settings: () => Settings;
  /** The address is in one of our relay domains. */
  isInternal: (address: string) => boolean;
}

export function decryptStage(o: DecryptStageOptions): Stage {
  return {
    name: 'decrypt',
    async run(ctx: MessageContext) {
      if (ctx.client.trusted || !o.settings()['encryption.decryptInbound']) return;
      const recipients = ctx.recipients.map((r) => r.address.toLowerCase()).filter(o.isInternal);
      if (!recipients.length) return;
      for (const d of o.decryptors()) {
        let r: DecryptOutcome;
        try {
          r = await d.decrypt(ctx.body, recipients);
        } catch (err) {
          r = { kind: 'kept', reason: (err as Error).message };
        }
        if (r.kind === 'not-mine') continue;
        if (r.kind === 'kept') {
          ctx.trace('decrypt', { method: d.name, action: 'kept encrypted', reason: r.reason });
          return;
        }
        (ctx as { original: Buffer }).original = r.message;
        ctx.body = r.message;
        ctx.trace('decrypt', { action: 'decrypted', ...r.detail, method: d.name });
        return;
      }
    },
  };
}
