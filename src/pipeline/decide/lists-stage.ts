// The lists stage: early in the pipeline (after verify, before the scanners), it
// matches the sender against the allow and block lists for every recipient and records
// the result in ctx.lists. A message blocked for every recipient is refused here with
// 554 5.7.1, before any scanning; other matches are acted on by the decide stage.
import type { MessageContext, SmtpReply, Stage } from '../context.ts';
import { getHeader, headerBlock } from '../headers.ts';
import type { FilterConfig } from './filter-config.ts';

const BLOCKED: SmtpReply = { code: 554, enhanced: '5.7.1', message: 'Message refused: the sender is blocked' };

/** Addresses in a From header value ("Name <a@b>, c@d"), lowercase. */
export function fromAddresses(value: string | null): string[] {
  if (!value) return [];
  const out = new Set<string>();
  for (const m of value.matchAll(/<([^<>\s]+@[^<>\s]+)>|([^\s<>,;:"()]+@[^\s<>,;:"()]+)/g)) out.add((m[1] ?? m[2])!.toLowerCase());
  return [...out];
}

export function listsStage(o: { config: () => Promise<FilterConfig> }): Stage {
  return {
    name: 'lists',
    async run(ctx: MessageContext) {
      if (ctx.client.trusted) return; // our own servers: the lists are for mail from outside
      const cfg = await o.config();
      const v = ctx.auth?.verdict;
      const from = v?.from.addresses.length ? v.from.addresses.map((a) => a.toLowerCase()) : fromAddresses(getHeader(headerBlock(ctx.original), 'From'));
      const verdict = cfg.lists.evaluate({
        mailFrom: ctx.mailFrom,
        clientIp: ctx.client.ip,
        fromAddresses: from,
        dmarcPassDomain: v?.dmarc.result === 'pass' ? (v.dmarc.domain ?? null) : null,
        recipients: ctx.recipients.map((r) => r.address),
      });
      ctx.lists = verdict;
      const matches: Record<string, string> = {};
      for (const [r, m] of verdict.recipients) {
        if (m.block) matches[r] = `block: ${m.block}`;
        else if (m.skipSpam) matches[r] = `allow: ${m.skipSpam}`;
      }
      if (verdict.allowAll) ctx.trace('lists', { allowAll: verdict.allowAll });
      else if (Object.keys(matches).length) ctx.trace('lists', matches);
      if (!verdict.allowAll && verdict.recipients.size && [...verdict.recipients.values()].every((m) => m.block)) ctx.reject = BLOCKED;
    },
  };
}
