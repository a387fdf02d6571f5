// Conditions under which content-filter stages do not run, as wrappers, so the stages
// themselves (some written elsewhere) need not know about lists or switches.
import type { MessageContext, Stage } from '../context.ts';

/** The stage does not run for mail on the global allow-all list (lists stage). */
export function unlessAllowAll(stage: Stage): Stage {
  return {
    name: stage.name,
    run(ctx) {
      if (ctx.lists?.allowAll) return;
      return stage.run(ctx);
    },
  };
}

/** The stage runs only while `enabled(ctx)` says so (read per message: a settings change applies at once). */
export function onlyWhen(enabled: (ctx: MessageContext) => boolean, stage: Stage): Stage {
  return {
    name: stage.name,
    run(ctx) {
      if (!enabled(ctx)) return;
      return stage.run(ctx);
    },
  };
}

/**
 * The sender-authentication verdict asks the decide stage to hold or tag the message:
 * it must run then even with the content filter off, or the verdict would be lost.
 */
export function authNeedsDecide(ctx: MessageContext): boolean {
  const a = ctx.auth?.decision.action;
  return a === 'quarantine' || a === 'tag';
}
