// The decision matrix: what each recipient gets, from the findings of the filter stages,
// the recipient's policy and lists, and the sender-authentication verdict. Pure.
//
// Per recipient, every category that applies proposes an action and the most severe one
// wins: reject > discard > quarantine > tag > deliver. Categories:
//   malware   any infection                          → policy malware action
//   banned    a file banned by the policy's rule set → policy banned action
//   spam      score (plus rule scores) ≥ reject level → reject; ≥ quarantine level → the
//             policy spam action; ≥ tag level → tag          (skipped: allow lists, policy)
//             Tagging is the X-Spam headers; the Subject is marked only from the
//             quarantine level on (when that copy is delivered anyway: spam action
//             tag/deliver, no quarantine store), so that mail a filter rule can sort
//             by header is not relabelled for every reader. bench/spam.ts: between
//             the tag and quarantine levels sits a few percent of ham (newsletters).
//   badheader a bad-header symbol fired               → policy badheader action (skipped like spam)
//   rule      a message rule asked for quarantine or reject
//   auth      DMARC p=quarantine (verify stage)       → quarantine, or tag (auth.dmarcQuarantine,
//             and an SPF fail with auth.spfHardFail=tag)
//   list      the recipient's block list              → reject
// The global allow-all list skips all of it: deliver.
import type { PolicyAction } from '../../db/schema.ts';
import type { FilterCategory, FilterFindings } from '../filter/findings.ts';
import type { ListVerdict } from './lists.ts';
import type { PolicyMap } from './policy.ts';

export type DecisionCategory = FilterCategory | 'rule' | 'auth' | 'list';

export interface RecipientDecision {
  address: string;
  policy: string;
  /** How the policy was found ("recipient x", "domain y", "default", "sender z" for outbound). */
  via: string;
  action: PolicyAction;
  /** What caused the action; null when nothing did (deliver). */
  category: DecisionCategory | null;
  /** One line for admins. */
  reason: string;
  /** The spam score counted for this recipient (engine score plus rule scores); null when not scanned or skipped. */
  score: number | null;
  /** Why spam checks did not count for this recipient, if they did not. */
  spamSkipped: string | null;
  /** Spam level reached the tag level (the delivered copy is tagged). */
  spamTag: boolean;
  /** The delivered copy's Subject gets subjectTag: spam at the quarantine level (or the tag level when quarantine is off), or a tag action of another category. */
  subjectTagged: boolean;
  subjectTag: string;
  /** Header lines message rules add to this recipient's copy. */
  headers: string[];
  /** A message rule sends this recipient's copy to another address instead. */
  redirect: { rule: string; to: string } | null;
}

export interface DecideInput {
  recipients: readonly string[];
  mailFrom: string;
  /** Mail from the relay networks: the sender's policy applies, not the recipients'. */
  outbound: boolean;
  findings: FilterFindings;
  lists?: ListVerdict | undefined;
  /** The verify stage's action ('quarantine' holds the message, 'tag' tags it). */
  authAction?: string | undefined;
  authReason?: string | undefined;
  policies: PolicyMap;
  badHeaderSymbols: ReadonlySet<string>;
}

const SEVERITY: Record<PolicyAction, number> = { deliver: 0, tag: 1, quarantine: 2, discard: 3, reject: 4 };

export function moreSevere(a: PolicyAction, b: PolicyAction): boolean {
  return SEVERITY[a] > SEVERITY[b];
}

interface Proposal {
  action: PolicyAction;
  category: DecisionCategory;
  reason: string;
}

const fmt = (n: number) => String(Math.round(n * 100) / 100);

export function decideRecipients(input: DecideInput): RecipientDecision[] {
  const f = input.findings;
  const infected = f.malware?.infected ?? [];
  const badHeaders = (f.spam?.symbols ?? []).filter((s) => input.badHeaderSymbols.has(s.name)).map((s) => s.name);

  return input.recipients.map((address) => {
    const { policy, via } = input.outbound ? senderPolicy(input.policies, input.mailFrom) : input.policies.resolve(address);
    // Message rules hold for the whole message, or only for the recipients they name.
    const rules = (f.rules ?? []).filter((r) => !r.recipients || r.recipients.some((x) => x.toLowerCase() === address.toLowerCase()));
    const ruleScore = rules.filter((r) => r.action === 'score').reduce((s, r) => s + (Number(r.value) || 0), 0);
    const bypass = rules.find((r) => r.action === 'bypass');
    const redirect = rules.find((r) => r.action === 'redirect' && typeof r.value === 'string' && r.value.includes('@'));
    const base = {
      address, policy: policy.name, via, subjectTag: policy.subjectTag, score: null, spamSkipped: null, spamTag: false, subjectTagged: false,
      headers: rules.filter((r) => r.action === 'header').map((r) => headerLine(String(r.value ?? ''))).filter((h): h is string => h !== null),
      redirect: redirect ? { rule: redirect.rule, to: String(redirect.value) } : null,
    };
    if (input.lists?.allowAll) return { ...base, action: 'deliver', category: null, reason: input.lists.allowAll, spamSkipped: input.lists.allowAll };
    const listed = input.lists?.recipients.get(address.toLowerCase());
    if (listed?.block) return { ...base, action: 'reject', category: 'list', reason: listed.block };

    const proposals: Proposal[] = [];
    if (infected.length) {
      proposals.push({ action: policy.actions.malware, category: 'malware', reason: `malware: ${infected.map((i) => `${i.name} in ${i.where}`).join(', ')}` });
    }
    const ruleSet = policy.fileRules ?? 'default';
    const banned = (f.banned ?? []).filter((b) => b.ruleSet === ruleSet);
    if (banned.length) {
      proposals.push({ action: policy.actions.banned, category: 'banned', reason: `banned attachment: ${banned.map((b) => `${b.filename} (${b.reason})`).join(', ')}` });
    }
    const spamSkipped = bypass ? `message rule ${bypass.rule} bypasses the spam checks` : (listed?.skipSpam ?? (policy.spamChecks ? null : `policy ${policy.name} has spam checks off`));
    let score: number | null = null;
    let spamTag = false;
    let subjectTagged = false;
    if (f.spam && !spamSkipped) {
      score = Math.round((f.spam.score + ruleScore) * 100) / 100;
      const lv = (n: number | null) => n !== null && score! >= n;
      if (lv(policy.rejectScore)) proposals.push({ action: 'reject', category: 'spam', reason: `spam score ${fmt(score)} >= reject level ${policy.rejectScore}` });
      else if (lv(policy.quarantineScore)) proposals.push({ action: policy.actions.spam, category: 'spam', reason: `spam score ${fmt(score)} >= ${policy.quarantineScore}` });
      else if (lv(policy.tagScore)) proposals.push({ action: 'tag', category: 'spam', reason: `spam score ${fmt(score)} >= tag level ${policy.tagScore}` });
      spamTag = lv(policy.tagScore);
      subjectTagged = lv(policy.quarantineScore ?? policy.tagScore);
      if (badHeaders.length) proposals.push({ action: policy.actions.badheader, category: 'badheader', reason: `bad header: ${badHeaders.join(', ')}` });
    }
    for (const r of rules) {
      if (r.action === 'quarantine') proposals.push({ action: 'quarantine', category: 'rule', reason: `message rule ${r.rule}` });
      if (r.action === 'reject') proposals.push({ action: 'reject', category: 'rule', reason: `message rule ${r.rule}${typeof r.value === 'string' && r.value ? `: ${r.value}` : ''}` });
    }
    if (input.authAction === 'quarantine') proposals.push({ action: 'quarantine', category: 'auth', reason: input.authReason ?? 'DMARC policy quarantine' });
    if (input.authAction === 'tag') proposals.push({ action: 'tag', category: 'auth', reason: input.authReason ?? 'sender authentication failed' });

    let chosen: Proposal | null = null;
    for (const p of proposals) if (!chosen || moreSevere(p.action, chosen.action)) chosen = p;
    const d: RecipientDecision = { ...base, score, spamSkipped, spamTag, subjectTagged, action: 'deliver', category: null, reason: 'clean' };
    if (chosen && chosen.action !== 'deliver') Object.assign(d, { action: chosen.action, category: chosen.category, reason: `${chosen.reason} (policy ${policy.name})` });
    else if (chosen) d.reason = `${chosen.reason}; policy ${policy.name} delivers`;
    // A tag asked for by another category (sender authentication, say) marks the Subject.
    if (d.action === 'tag' && proposals.some((p) => p.action === 'tag' && p.category !== 'spam')) d.subjectTagged = true;
    return d;
  });
}

/** "Name: value" from a message rule as a header line, or null when it is not one. */
function headerLine(v: string): string | null {
  const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(v.trim());
  if (!m || /[\r\n]/.test(v)) return null;
  return `${m[1]}: ${m[2]}\r\n`;
}

/** Outbound mail is judged by its sender's policy (an assignment for the sender or its domain, else the default). */
function senderPolicy(policies: PolicyMap, mailFrom: string) {
  if (!mailFrom) return { policy: policies.default, via: 'default (null sender)' };
  const r = policies.resolve(mailFrom);
  return { policy: r.policy, via: r.via === 'default' ? 'default' : `sender ${r.via}` };
}
