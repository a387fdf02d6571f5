// The decide stage: the last stage that sees the message whole. It turns the findings
// of the filter stages into each recipient's fate (decide.ts), the SMTP reply and the
// copies to make (plan.ts), and leaves the copies' own changes (X-Spam headers, subject
// tag) to the fork, so that modify, sign and seal run on each copy's final bytes.
import type { Settings } from '../../config/settings.ts';
import type { CopyPlan, MessageContext, RecipientContext, SmtpReply, Stage } from '../context.ts';
import type { FilterConfig } from './filter-config.ts';
import type { MalformedFinding } from '../filter/malformed.ts';
import { decideRecipients } from './decide.ts';
import { planDelivery, type CopyGroup } from './plan.ts';
import { stripVerdictHeaders, tagSubject } from './tagging.ts';

export interface DecideStageOptions {
  config: () => Promise<FilterConfig>;
  settings: () => Settings;
  /** Whether a quarantine store is there to hold messages. */
  canHold: () => boolean;
  /** Delivery route for an address added by a message rule (redirect, BCC). */
  routeFor: (address: string) => { route: string; requireTls: boolean };
}

const MALWARE_TEMPFAIL: SmtpReply = { code: 451, enhanced: '4.7.1', message: 'Temporary failure scanning the message for malware; please try again later' };

export function decideStage(o: DecideStageOptions): Stage {
  return {
    name: 'decide',
    async run(ctx) {
      const s = o.settings();
      const cfg = await o.config();
      const f = ctx.findings;
      const allowAll = ctx.lists?.allowAll ?? null;

      // A scanner that could not scan: by default the client tries again later, so no
      // message passes unscanned; 'accept' carries on with what the others found.
      const scanErrors = f.malware?.errors ?? [];
      if (scanErrors.length && !f.malware?.infected.length && !allowAll) {
        const onError = s['malware.onError'] ?? 'tempfail';
        ctx.trace('malware-error', { errors: scanErrors.map((e) => `${e.engine}: ${e.error}`), action: onError });
        if (onError === 'tempfail') {
          ctx.reject = MALWARE_TEMPFAIL;
          return;
        }
      }

      // A message no parser accepts: the same answer every time it comes (malformed.ts).
      if (f.malformed && !f.malware?.infected.length && !allowAll) return decideMalformed(ctx, f.malformed, s, o.canHold());

      const inbound = !ctx.client.trusted;
      const decisions = decideRecipients({
        recipients: ctx.recipients.map((r) => r.address),
        mailFrom: ctx.mailFrom,
        outbound: !inbound,
        findings: f,
        lists: ctx.lists,
        authAction: ctx.auth?.decision.action,
        authReason: ctx.auth ? `sender authentication: ${ctx.auth.decision.reasons.join('; ') || ctx.auth.decision.action}` : undefined,
        policies: cfg.policies,
        badHeaderSymbols: new Set(s['filter.badHeaderSymbols']),
      });
      const rules = f.rules ?? [];
      const plan = planDelivery(decisions, {
        spam: f.spam,
        spamHeaders: inbound || f.spam !== undefined,
        canHold: o.canHold(),
      });
      for (const x of plan.fates) ctx.trace('policy', x);
      if (plan.reject) {
        ctx.reject = plan.reject;
        return;
      }
      addBcc(plan.copies, rules, ctx);
      if (inbound) ctx.body = stripVerdictHeaders(ctx.body);

      const byAddress = new Map(ctx.recipients.map((r) => [r.address.toLowerCase(), r]));
      const recipient = (a: string): RecipientContext => byAddress.get(a.toLowerCase()) ?? { address: a, ...o.routeFor(a) };
      ctx.copies = plan.copies.map((g): CopyPlan => ({
        recipients: g.recipients.map(recipient),
        hold: g.hold,
        label: g.label,
        apply(copy: MessageContext) {
          copy.prepend.push(...g.headers);
          if (g.subjectTag) {
            const t = tagSubject(copy.body, g.subjectTag);
            copy.body = t.body;
            if (t.added) copy.prepend.push(t.added);
          }
        },
      }));
    },
  };
}

/** Holds the whole message (filter.malformedAction 'quarantine', the default) or refuses it with 550 5.6.0. */
function decideMalformed(ctx: MessageContext, m: MalformedFinding, s: Settings, canHold: boolean): void {
  const action = s['filter.malformedAction'] === 'reject' || !canHold ? 'reject' : 'quarantine';
  ctx.trace('malformed', { stage: m.stage, reason: m.reason, action, ...(action !== s['filter.malformedAction'] ? { why: 'no quarantine store' } : {}) });
  if (action === 'reject') {
    ctx.reject = { code: 550, enhanced: '5.6.0', message: 'Malformed message: it cannot be parsed' };
    return;
  }
  ctx.copies = [{
    recipients: ctx.recipients,
    hold: { category: 'malformed', score: null, symbols: [], reason: `malformed message (${m.stage}): ${m.reason}` },
    label: 'malformed',
    apply() {},
  }];
}

/** Message rules' BCC: one more recipient, on the first copy for delivery. */
function addBcc(copies: CopyGroup[], rules: NonNullable<MessageContext['findings']['rules']>, ctx: MessageContext): void {
  const target = copies.find((c) => !c.hold);
  for (const r of rules) {
    if (r.action !== 'bcc' || typeof r.value !== 'string' || !r.value.includes('@')) continue;
    const to = r.value;
    if (!target) {
      // Nothing is delivered (all held): the BCC still gets its copy, untagged.
      copies.unshift({ recipients: [to], hold: null, subjectTag: null, headers: [], label: 'clean' });
    } else if (!target.recipients.some((a) => a.toLowerCase() === to.toLowerCase())) target.recipients.push(to);
    ctx.trace('bcc', { rule: r.rule, to });
  }
}
