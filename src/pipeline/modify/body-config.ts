// The body-change configuration a running gateway uses, read once per configuration
// serial (like the policy snapshot and the signing keys): templates, enabled rules,
// exemptions as lookup sets, groups by member, and the per-sender fields.
import type { Db } from '../../db/database.ts';
import { loadBodyConfig, type BodyConfigRows, type BodyKind, type RuleScope, type TemplateImageInput } from '../../db/repos/body-changes.ts';
import { NetworkSet } from '../../smtp/cidr.ts';

export interface BodyTemplate {
  id: number;
  name: string;
  kind: BodyKind;
  text: string | null;
  html: string | null;
  images: TemplateImageInput[];
}

export interface BodyRule {
  id: number;
  kind: BodyKind;
  scope: RuleScope;
  value: string;
  internal: boolean;
  template: BodyTemplate;
}

export interface Exemptions {
  addresses: Set<string>;
  domains: Set<string>;
  networks: NetworkSet;
}

export interface BodyConfig {
  rules: Record<BodyKind, BodyRule[]>;
  exemptions: Record<BodyKind, Exemptions>;
  /** Member (address or "*@domain") → group names. */
  groups: Map<string, string[]>;
  senderFields: Map<string, Record<string, string>>;
  /** Whether any rule is enabled at all: without one the stage does nothing. */
  active: boolean;
}

export function buildBodyConfig(rows: BodyConfigRows): BodyConfig {
  const templates = new Map<number, BodyTemplate>(
    rows.templates.map((t) => [t.id, { id: t.id, name: t.name, kind: t.kind, text: t.text_body, html: t.html_body, images: t.images }]),
  );
  const rules: Record<BodyKind, BodyRule[]> = { banner: [], disclaimer: [], signature: [] };
  for (const r of rows.rules) {
    const template = templates.get(r.template_id);
    if (template) rules[r.kind].push({ id: r.id, kind: r.kind, scope: r.scope, value: r.value, internal: !!r.internal, template });
  }
  const exemptions = {} as Record<BodyKind, Exemptions>;
  for (const kind of ['banner', 'disclaimer', 'signature'] as const) {
    const mine = rows.exemptions.filter((e) => e.kind === kind);
    exemptions[kind] = {
      addresses: new Set(mine.filter((e) => e.type === 'address').map((e) => e.value)),
      domains: new Set(mine.filter((e) => e.type === 'domain').map((e) => e.value)),
      networks: new NetworkSet(mine.filter((e) => e.type === 'network').map((e) => e.value)),
    };
  }
  const groups = new Map<string, string[]>();
  for (const g of rows.groups) groups.set(g.member, [...(groups.get(g.member) ?? []), g.name]);
  return { rules, exemptions, groups, senderFields: rows.senderFields, active: rows.rules.length > 0 };
}

/** Reloads when the configuration serial moves; concurrent callers share one load. */
export class BodyConfigStore {
  #loaded: { serial: number; config: BodyConfig } | null = null;
  #loading: Promise<BodyConfig> | null = null;

  constructor(private readonly db: Db, private readonly serial: () => number) {}

  async current(): Promise<BodyConfig> {
    const serial = this.serial();
    if (this.#loaded && this.#loaded.serial === serial) return this.#loaded.config;
    this.#loading ??= loadBodyConfig(this.db)
      .then((rows) => {
        const config = buildBodyConfig(rows);
        this.#loaded = { serial, config };
        return config;
      })
      .finally(() => (this.#loading = null));
    return this.#loading;
  }
}
