// Which filter policy applies to an address, and what a policy says. Resolution order:
// the address's own assignment, then its domain's (or a parent domain's), then the
// default assignment. Pure: built from rows already loaded (see filter-config.ts).
import type { FilterPolicyRow, PolicyAction } from '../../db/schema.ts';
import type { FilterCategory } from '../filter/findings.ts';

export interface FilterPolicy {
  name: string;
  /** Spam score levels; null: that level is off. */
  tagScore: number | null;
  quarantineScore: number | null;
  rejectScore: number | null;
  actions: Record<FilterCategory, PolicyAction>;
  subjectTag: string;
  /** False: the spam score is not acted on for this policy's recipients. */
  spamChecks: boolean;
  fileRules: string | null;
}

export interface ResolvedPolicy {
  policy: FilterPolicy;
  /** How it was found: "recipient bob@example.com", "domain example.com", "default". */
  via: string;
}

/** Used when the database holds no default assignment (it always does after migration 3). */
export const BUILTIN_DEFAULT_POLICY: FilterPolicy = Object.freeze({
  name: 'default',
  tagScore: 2,
  quarantineScore: 5,
  rejectScore: 15,
  actions: Object.freeze({ spam: 'quarantine', malware: 'reject', banned: 'reject', badheader: 'deliver' }) as Record<FilterCategory, PolicyAction>,
  subjectTag: '[SUSPECTED SPAM]',
  spamChecks: true,
  fileRules: null,
}) as FilterPolicy;

export function policyFromRow(r: FilterPolicyRow): FilterPolicy {
  return {
    name: r.name,
    tagScore: r.tag_score === null ? null : Number(r.tag_score),
    quarantineScore: r.quarantine_score === null ? null : Number(r.quarantine_score),
    rejectScore: r.reject_score === null ? null : Number(r.reject_score),
    actions: { spam: r.spam_action, malware: r.malware_action, banned: r.banned_action, badheader: r.badheader_action },
    subjectTag: r.subject_tag,
    spamChecks: r.spam_checks !== 0,
    fileRules: r.file_rules,
  };
}

export interface AssignmentRow {
  scope: string;
  target: string;
  policy: string;
}

export class PolicyMap {
  readonly #byName: Map<string, FilterPolicy>;
  readonly #recipient = new Map<string, FilterPolicy>();
  readonly #domain = new Map<string, FilterPolicy>();
  readonly default: FilterPolicy;

  constructor(policies: FilterPolicy[], assignments: AssignmentRow[]) {
    this.#byName = new Map(policies.map((p) => [p.name, p]));
    let def: FilterPolicy | undefined;
    for (const a of assignments) {
      const p = this.#byName.get(a.policy);
      if (!p) continue;
      if (a.scope === 'recipient') this.#recipient.set(a.target.toLowerCase(), p);
      else if (a.scope === 'domain') this.#domain.set(a.target.toLowerCase(), p);
      else if (a.scope === 'default') def = p;
    }
    this.default = def ?? this.#byName.get('default') ?? BUILTIN_DEFAULT_POLICY;
  }

  byName(name: string): FilterPolicy | undefined {
    return this.#byName.get(name);
  }

  /** The policy for an address: recipient > domain (or a parent domain) > default. */
  resolve(address: string): ResolvedPolicy {
    const a = address.toLowerCase();
    const own = this.#recipient.get(a);
    if (own) return { policy: own, via: `recipient ${a}` };
    let d = a.slice(a.lastIndexOf('@') + 1);
    while (d) {
      const p = this.#domain.get(d);
      if (p) return { policy: p, via: `domain ${d}` };
      const dot = d.indexOf('.');
      d = dot < 0 ? '' : d.slice(dot + 1);
    }
    return { policy: this.default, via: 'default' };
  }
}
