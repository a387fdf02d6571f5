// The ARC seal stage: last of all, on the final bytes, when enabled (arc.enabled,
// arc.domain, arc.selector naming an RSA key of the DKIM key table). The chain status
// (cv=) is the one found on arrival, never validated again here (see arc-seal.ts):
// - mail from outside: the verify stage's verdict (ctx.auth), and our
//   Authentication-Results become the ARC-Authentication-Results;
// - mail from our relay networks is not verified: with no ARC set on arrival it gets
//   cv=none; one that carries a chain (an internal list server forwarding outside
//   mail) has that chain validated on the bytes as received, here, before sealing.
import type { MessageContext, Stage } from '../context.ts';
import type { Settings } from '../../config/settings.ts';
import { finalMessage } from '../pipeline.ts';
import { headerBlock } from '../headers.ts';
import { verifyMessage, type Resolver } from '../verify/authenticate.ts';
import { arcSeal, type ArcArrival } from './arc-seal.ts';
import { endHeader } from '../header-end.ts';
import type { SigningKeyStore } from './key-store.ts';

export interface SealStageOptions {
  authservId: string;
  keys: SigningKeyStore;
  settings: () => Settings;
  resolver: Resolver;
}

async function arrivalOf(ctx: MessageContext, o: SealStageOptions, s: Settings): Promise<{ arrival: ArcArrival; authResults: string } | { reason: string }> {
  if (!ctx.client.trusted) {
    if (!ctx.auth) return { reason: 'the message was not verified on arrival (auth.verify is off)' };
    return { arrival: ctx.auth.verdict.arc, authResults: ctx.auth.verdict.authResults };
  }
  if (!/^arc-seal[ \t]*:/im.test(headerBlock(ctx.original))) {
    return { arrival: { result: 'none', instance: 0, shouldSeal: true }, authResults: `${o.authservId}; none` };
  }
  const v = await verifyMessage({
    raw: ctx.original,
    clientIp: ctx.client.ip,
    helo: ctx.client.helo ?? '',
    mailFrom: ctx.mailFrom,
    authservId: o.authservId,
    resolver: o.resolver,
    bypass: { spf: true, dkim: true, dmarc: true },
    lookupTimeoutMs: s['auth.dnsTimeoutMs'],
  });
  return { arrival: v.arc, authResults: v.authResults };
}

export function arcSealStage(o: SealStageOptions): Stage {
  return {
    name: 'arc-seal',
    async run(ctx: MessageContext) {
      const s = o.settings();
      if (!s['arc.enabled']) return;
      const domain = s['arc.domain'];
      const selector = s['arc.selector'];
      try {
        if (!domain || !selector) throw new Error('arc.enabled is true but arc.domain or arc.selector is not set (see "hermes arc enable --help")');
        const a = await arrivalOf(ctx, o, s);
        if ('reason' in a) {
          ctx.trace('arc-seal', { sealed: false, reason: a.reason });
          return;
        }
        const key = await o.keys.arcKey(domain, selector);
        endHeader(ctx);
        const final = Buffer.concat(finalMessage(ctx));
        const res = await arcSeal(final, { key, arrival: a.arrival, authResults: a.authResults });
        if (!res.sealed) {
          ctx.trace('arc-seal', { sealed: false, reason: res.reason });
          return;
        }
        // finalMessage() encodes prepend as UTF-8: decode the same way so the signed bytes
        // (an ARC-Authentication-Results may carry an SMTPUTF8 address) come out unchanged.
        ctx.prepend.unshift(res.message.subarray(0, res.message.length - final.length).toString('utf8'));
        ctx.trace('arc-seal', { instance: res.instance, cv: res.cv, domain, selector });
      } catch (err) {
        // A broken sealing setup must be seen, but it does not stop mail: the message
        // goes on unsealed, exactly as it would with sealing off.
        ctx.log.error({ err }, 'ARC sealing failed; message relayed without our seal');
        ctx.trace('arc-seal', { sealed: false, error: (err as Error).message });
      }
    },
  };
}
