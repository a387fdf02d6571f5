// The enabled rules a running gateway evaluates, compiled once and reloaded when the
// configuration serial moves (any rule change from the CLI or console).
import type { Db } from '../../../db/database.ts';
import { listRules } from '../../../db/repos/message-rules.ts';
import { compileRule, type CompiledRule } from './evaluate.ts';

export class RuleStore {
  #loaded: { serial: number; rules: CompiledRule[] } | null = null;
  #loading: Promise<CompiledRule[]> | null = null;

  constructor(
    private readonly db: Db,
    private readonly serial: () => number,
  ) {}

  async rules(): Promise<CompiledRule[]> {
    const serial = this.serial();
    if (this.#loaded?.serial === serial) return this.#loaded.rules;
    this.#loading ??= listRules(this.db, { enabledOnly: true })
      .then((rules) => {
        // A rule that no longer compiles (edited in the database by hand) is left out, not fatal.
        const compiled: CompiledRule[] = [];
        for (const r of rules) {
          try {
            compiled.push(compileRule(r));
          } catch {
            /* validated on save; skipped here */
          }
        }
        this.#loaded = { serial, rules: compiled };
        return compiled;
      })
      .finally(() => (this.#loading = null));
    return this.#loading;
  }
}
