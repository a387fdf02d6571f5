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
    const out: MessageContext[] = [];
    for (const copy of copies) {
      const failed = await this.#runPerCopy(copy, 0, makeCopy, out);
      if (failed) {
        // One copy failing (say, a signing key that cannot be read) fails the message:
        // nothing is stored yet, so the client can simply try again.
        ctx.reject = failed.reject;
        return [];
      }
    }
    return out;
  }

  /**
   * Runs the per-copy stages from `from` on a copy; a stage that splits the copy
   * (ctx.split) is run again on each part. Finished copies go to `out`; returns the
   * copy that was rejected, if one was.
   */
  async #runPerCopy(copy: MessageContext, from: number, makeCopy: CopyFactory, out: MessageContext[]): Promise<MessageContext | null> {
    for (let i = from; i < this.perCopy.length; i++) {
      const stage = this.perCopy[i]!;
      await stage.run(copy);
      if (copy.reject) {
        copy.trace('rejected', { stage: stage.name, reply: copy.reject });
        return copy;
      }
      const split = copy.split;
      if (split?.length) {
        copy.split = undefined;
        for (const [n, plan] of split.entries()) {
          const failed = await this.#runPerCopy(makeCopy(copy, plan, n), i, makeCopy, out);
          if (failed) return failed;
        }
        return null;
      }
    }
    out.push(copy);
    return null;
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
  const copy: MessageContext = { ...parent, recipients: plan.recipients, prepend: [...parent.prepend], copies: undefined, split: undefined, hold: plan.hold ?? undefined };
  plan.apply(copy);
  return copy;
}

/** The final bytes: prepended headers above the (possibly changed) message. */
export function finalMessage(ctx: MessageContext): Buffer[] {
  return ctx.prepend.length ? [Buffer.from(ctx.prepend.join('')), ctx.body] : [ctx.body];
}
