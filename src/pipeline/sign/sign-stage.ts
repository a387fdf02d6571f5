// The DKIM sign stage: last but one, for outbound mail (from the relay networks, later
// also authenticated submission). It signs the final bytes, everything prepended by
// earlier stages included, with every active key of the sender's domain (RSA and
// Ed25519 side by side when both exist), and puts the signatures on top.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { MessageContext, SmtpReply, Stage } from '../context.ts';
import { finalMessage } from '../pipeline.ts';
import { headerBlock } from '../headers.ts';
import { organizationalDomain } from '../verify/authenticate.ts';
import { dkimSign } from './dkim-sign.ts';
import { endHeader } from '../header-end.ts';
import type { SigningKeyStore } from './key-store.ts';

export interface SignStageOptions {
  keys: SigningKeyStore;
}

const SIGN_FAILED: SmtpReply = {
  code: 451,
  enhanced: '4.3.0',
  message: 'Temporary failure signing the message (DKIM); please try again later',
};

/** Domains of every RFC5322.From address, lowercased, in order. */
export function fromDomains(message: Buffer): string[] {
  const block = headerBlock(message);
  const out: string[] = [];
  const re = /^from[ \t]*:(.*(?:\r?\n[ \t].*)*)/gim;
  for (let m = re.exec(block); m; m = re.exec(block)) {
    for (const a of addressparser(m[1]!.replace(/\r?\n[ \t]/g, ' '), { flatten: true })) {
      const d = domainOf(a.address ?? '');
      if (d && !out.includes(d)) out.push(d);
    }
  }
  return out;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).trim().toLowerCase().replace(/\.$/, '') : '';
}

/** The domain, then its parents up to the organisational domain: a key for example.com signs for news.example.com. */
export function signingCandidates(domain: string): string[] {
  if (!domain) return [];
  const org = organizationalDomain(domain);
  const out = [domain];
  if (!org) return out;
  let d = domain;
  while (d !== org && d.includes('.')) {
    d = d.slice(d.indexOf('.') + 1);
    out.push(d);
  }
  return out;
}

export function dkimSignStage(o: SignStageOptions): Stage {
  return {
    name: 'dkim-sign',
    async run(ctx: MessageContext) {
      if (!ctx.client.trusted) return; // outbound only
      // Earlier stages only prepend trace/result headers: the From field is in the body part.
      const from = fromDomains(ctx.body);
      const envelope = domainOf(ctx.mailFrom);
      const candidates = [...new Set([...from.flatMap(signingCandidates), ...signingCandidates(envelope)])];
      if (!candidates.length) return;
      try {
        const found = await o.keys.signingKeys(candidates);
        if (!found) {
          ctx.trace('dkim-sign', { skipped: `no active DKIM key for ${candidates.join(', ')}` });
          return;
        }
        if (!from.length) {
          ctx.trace('dkim-sign', { skipped: 'the message has no From address (RFC 6376 5.4 needs one)' });
          return;
        }
        endHeader(ctx);
        const final = Buffer.concat(finalMessage(ctx));
        const signed = await dkimSign(final, found.keys);
        ctx.prepend.unshift(signed.subarray(0, signed.length - final.length).toString('utf8'));
        ctx.trace('dkim-sign', {
          domain: found.domain,
          signatures: found.keys.map((k) => `s=${k.selector} a=${k.algorithm}`),
          ...(from.includes(found.domain) ? {} : { note: `From domain ${from.join(', ')} has no key of its own` }),
        });
      } catch (err) {
        // A configured signature must not silently go missing: the sender tries again.
        ctx.log.error({ err }, 'DKIM signing failed');
        ctx.trace('dkim-sign', { error: (err as Error).message });
        ctx.reject = SIGN_FAILED;
      }
    },
  };
}
