// The rules stage: evaluates the enabled message rules on the message as received and
// records the matches in ctx.findings.rules (with a trace entry). It changes nothing
// itself; the decide stage carries out the actions:
//   score      value: points added to the spam score
//   header     value: "Name: value" added to the delivered copies
//   redirect   value: address that gets the message instead of the recipients
//              (only of `recipients` when the match names them)
//   bcc        value: address that gets a copy as well
//   quarantine the message (or `recipients`' copy) is held, category 'rule'
//   reject     refused in the session (value: optional reply text)
//   bypass     the spam checks' verdict is not applied (the spam score is not acted on)
import type { Stage } from '../../context.ts';
import { parsedEmail } from '../attachments/message-cache.ts';
import { noteMalformed } from '../malformed.ts';
import { evaluateRules } from './evaluate.ts';
import { RuleMessage } from './message-view.ts';
import type { RuleStore } from './rule-store.ts';

export function rulesStage(o: { store: RuleStore }): Stage {
  return {
    name: 'rules',
    async run(ctx) {
      const rules = await o.store.rules();
      if (!rules.length) return;
      const msg = new RuleMessage(ctx.original, () => parsedEmail(ctx), {
        mailFrom: ctx.mailFrom,
        recipients: ctx.recipients.map((r) => r.address.toLowerCase()),
      });
      let matches;
      try {
        matches = await evaluateRules(rules, msg);
      } catch (err) {
        // Content conditions need the parsed message; one that cannot be parsed is malformed.
        ctx.trace('rules', { error: `message could not be parsed: ${(err as Error).message}` });
        noteMalformed(ctx, 'rules', err);
        return;
      }
      ctx.findings.rules = matches;
      if (matches.length) {
        ctx.trace('rules', {
          matched: [...new Set(matches.map((m) => m.rule))],
          actions: matches.map((m) => `${m.rule}: ${m.action}${m.value !== undefined ? ` ${m.value}` : ''}${m.recipients ? ` (for ${m.recipients.join(', ')})` : ''}`),
        });
      }
    },
  };
}
