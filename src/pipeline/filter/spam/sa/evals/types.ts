// What an eval function gets: the message view, the rule's arguments, and the rule set's
// configuration (lists such as freemail_domains).
import type { SaMessage } from '../message.ts';
import type { SaConfig } from '../config.ts';

export interface SaEvalEnv {
  conf: SaConfig;
  now: Date;
  /** The header a `header X eval:...` rule names, when it names one. */
  header?: string;
}

/** Returns a truthy value (or a hit count) when the rule hits. */
export type SaEvalFn = (m: SaMessage, args: readonly string[], env: SaEvalEnv) => boolean | number;
