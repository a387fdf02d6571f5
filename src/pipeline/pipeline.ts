// The pipeline is an explicit, ordered array of stages. Order is the design: verify on
// the bytes as received; decide; modify; encrypt; DKIM-sign last; ARC-seal last of all.
// Later capabilities insert their stages at their place here, nowhere else.
//
// The fork: the decide stage may find that recipients get different messages (one
// tagged, one clean, one held). It then sets `ctx.copies`; the pipeline makes one
// context per copy and runs the stages after decide (modify, sign, seal) on each, so
// every copy is signed and sealed over its own final bytes.
import type { CopyPlan, MessageContext, Stage } from './context.ts';

/** Makes the context for copy `index` of a forked message (the SMTP session gives each its own id and trace). */
export type CopyFactory = (parent: MessageContext, plan: CopyPlan, index: number) => MessageContext;

export class Pipeline {
  /**
   * @param stages run once on the message, up to and including decide
   * @param perCopy run on each copy after the fork (modify, sign, seal)
   */
  constructor(
    readonly stages: readonly Stage[],
    readonly perCopy: readonly Stage[] = [],
  ) {}

  /**
   * Runs the stages; returns the copies to store (the message itself when it was not
   * forked), or [] when a stage rejected it (ctx.reject says why).
   */
  async run(ctx: MessageContext, makeCopy: CopyFactory = cloneContext): Promise<MessageContext[]> {
    if (!(await runStages(this.stages, ctx))) return [];
    const copies = ctx.copies ? ctx.copies.map((plan, i) => makeCopy(ctx, plan, i)) : [ctx];
    for (const copy of copies) {
      if (!(await runStages(this.perCopy, copy))) {
        // One copy failing (say, a signing key that cannot be read) fails the message:
        // nothing is stored yet, so the client can simply try again.
        ctx.reject = copy.reject;
        return [];
      }
    }
    return copies;
  }
}

async function runStages(stages: readonly Stage[], ctx: MessageContext): Promise<boolean> {
  for (const stage of stages) {
    await stage.run(ctx);
    if (ctx.reject) {
      ctx.trace('rejected', { stage: stage.name, reply: ctx.reject });
      return false;
    }
  }
  return true;
}

/** A copy sharing the parent's id and trace: for tests and callers without a spool. */
export function cloneContext(parent: MessageContext, plan: CopyPlan): MessageContext {
  const copy: MessageContext = { ...parent, recipients: plan.recipients, prepend: [...parent.prepend], copies: undefined, hold: plan.hold ?? undefined };
  plan.apply(copy);
  return copy;
}

/** The final bytes: prepended headers above the (possibly changed) message. */
export function finalMessage(ctx: MessageContext): Buffer[] {
  return ctx.prepend.length ? [Buffer.from(ctx.prepend.join('')), ctx.body] : [ctx.body];
}
