// The pipeline is an explicit, ordered array of stages. Order is the design: verify on
// the bytes as received; decide; modify; encrypt; DKIM-sign last; ARC-seal last of all.
// Later capabilities insert their stages at their place here, nowhere else.
import type { MessageContext, Stage } from './context.ts';

export class Pipeline {
  constructor(readonly stages: readonly Stage[]) {}

  /** Runs every stage until one rejects the message. */
  async run(ctx: MessageContext): Promise<void> {
    for (const stage of this.stages) {
      await stage.run(ctx);
      if (ctx.reject) {
        ctx.trace('rejected', { stage: stage.name, reply: ctx.reject });
        return;
      }
    }
  }
}

/** The final bytes: prepended headers above the (possibly changed) message. */
export function finalMessage(ctx: MessageContext): Buffer[] {
  return ctx.prepend.length ? [Buffer.from(ctx.prepend.join('')), ctx.body] : [ctx.body];
}
