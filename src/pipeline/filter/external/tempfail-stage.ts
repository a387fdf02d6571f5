// Runs right after the spam stage: an external engine configured with onError
// 'tempfail' that could not scan the message (its check threw, so the spam result lists
// it among the errors) refuses the message with 451, and the sender tries again later.
// With onError 'ignore' the check never throws and this stage has nothing to do.
import type { SmtpReply, Stage } from '../../context.ts';
import { EXTERNAL_CHECK_NAMES } from './checks.ts';

export const EXTERNAL_TEMPFAIL: SmtpReply = { code: 451, enhanced: '4.7.1', message: 'Temporary failure scanning the message for spam; please try again later' };

export function externalTempfailStage(): Stage {
  return {
    name: 'external-engines',
    run(ctx) {
      const failed = ctx.findings.spam?.errors.filter((e) => EXTERNAL_CHECK_NAMES.includes(e.check)) ?? [];
      if (!failed.length) return;
      ctx.trace('external-engines', { tempfail: failed.map((e) => `${e.check}: ${e.error}`) });
      ctx.reject = EXTERNAL_TEMPFAIL;
    },
  };
}
