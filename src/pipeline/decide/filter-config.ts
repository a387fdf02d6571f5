// Policies, assignments and lists as one in-memory snapshot, reloaded when the
// configuration serial moves (every edit bumps it), so an edit applies to the next
// message without a restart and the hot path reads no tables.
import type { Db } from '../../db/database.ts';
import { listAssignments, listPolicies } from '../../db/repos/filter-policies.ts';
import { listEntries } from '../../db/repos/lists.ts';
import { FilterLists } from './lists.ts';
import { PolicyMap, policyFromRow } from './policy.ts';

export interface FilterConfig {
  serial: number;
  policies: PolicyMap;
  lists: FilterLists;
}

export async function loadFilterConfig(db: Db, serial: number): Promise<FilterConfig> {
  const [policies, assignments, entries] = await Promise.all([listPolicies(db), listAssignments(db), listEntries(db)]);
  return { serial, policies: new PolicyMap(policies.map(policyFromRow), assignments), lists: new FilterLists(entries) };
}

export class FilterConfigStore {
  #current: FilterConfig | null = null;
  #loading: Promise<FilterConfig> | null = null;

  /** `serial` is the configuration serial the caller saw (PolicyStore.cached().serial). */
  constructor(
    private readonly db: Db,
    private readonly serial: () => number,
  ) {}

  async get(): Promise<FilterConfig> {
    const serial = this.serial();
    if (this.#current && this.#current.serial === serial) return this.#current;
    this.#loading ??= loadFilterConfig(this.db, serial)
      .then((c) => (this.#current = c))
      .finally(() => (this.#loading = null));
    return this.#loading;
  }
}
