// The file rule sets a running gateway uses, read from the database once and again only
// when config_serial moves (any "hermes filerules" change), so a changed rule applies
// from the next message without a restart and without a query per message.
import type { Db } from '../../../db/database.ts';
import { loadFileRuleSets } from '../../../db/repos/file-rules.ts';
import type { FileRuleSet } from './rules.ts';

export interface FileRuleSetStoreOptions {
  db: Db;
  /** The current configuration serial (PolicyStore.cached().serial). */
  serial: () => number;
}

export class FileRuleSetStore {
  #loaded: { serial: number; sets: Map<string, FileRuleSet> } | null = null;
  #loading: Promise<Map<string, FileRuleSet>> | null = null;

  constructor(private readonly o: FileRuleSetStoreOptions) {}

  async #sets(): Promise<Map<string, FileRuleSet>> {
    const serial = this.o.serial();
    if (this.#loaded?.serial === serial) return this.#loaded.sets;
    this.#loading ??= loadFileRuleSets(this.o.db)
      .then((sets) => {
        this.#loaded = { serial, sets };
        return sets;
      })
      .finally(() => (this.#loading = null));
    return this.#loading;
  }

  /** The set of this name, or undefined. */
  async get(name: string): Promise<FileRuleSet | undefined> {
    return (await this.#sets()).get(name.trim().toLowerCase());
  }

  /** A lookup function to hand to the stages: `attachmentStage({ ruleSets: store.lookup })`. */
  readonly lookup = (name: string): Promise<FileRuleSet | undefined> => this.get(name);
}
