// A message no parser accepts (an invalid Date: in an attached message, a header block
// over postal-mime's 2 MiB, MIME nested deeper than 256, ...) fails the same way every
// time it is sent. So it is a finding like spam or malware, which the decide stage acts
// on by policy (filter.malformedAction: hold it, or refuse it with 550 5.6.0), and never
// a temporary failure: a 451 would only make the sender retry it for days.
import type { MessageContext } from '../context.ts';

export interface MalformedFinding {
  /** The stage that found it, and the parser's words. */
  stage: string;
  reason: string;
}

/** Records that the message could not be parsed (the first stage to find it wins). */
export function noteMalformed(ctx: MessageContext, stage: string, err: unknown): void {
  ctx.findings.malformed ??= { stage, reason: err instanceof Error ? err.message : String(err) };
}
