// Conditions under which content-filter stages do not run, as wrappers, so the stages
// themselves (some written elsewhere) need not know about lists or switches.
import type { Stage } from '../context.ts';

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

/** The stage runs only while `enabled()` says so (read per message: a settings change applies at once). */
export function onlyWhen(enabled: () => boolean, stage: Stage): Stage {
  return {
    name: stage.name,
    run(ctx) {
      if (!enabled()) return;
      return stage.run(ctx);
    },
  };
}
