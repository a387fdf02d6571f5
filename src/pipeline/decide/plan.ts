// From per-recipient decisions to what happens in the SMTP session: one reply for the
// whole message, and the copies to make. Pure.
//
// One DATA reply covers every recipient, so:
//   - every recipient rejects (or rejects and discards) → the message is refused:
//     554 5.7.1 for a block list, else 550 5.7.1 with the reason;
//   - some reject, some accept → those who would reject get the message quarantined
//     instead (nothing is lost silently; an admin can release it), the others their
//     own fate;
//   - discard → no copy for that recipient (traced);
//   - recipients with the same treatment share one copy: one for the clean ones, one
//     tagged copy per subject tag, one held copy per hold reason.
import type { SmtpReply } from '../context.ts';
import type { HoldRequest } from '../context.ts';
import type { SpamResult } from '../filter/spam/types.ts';
import type { RecipientDecision } from './decide.ts';
import { spamHeaders } from './tagging.ts';

export type Fate = 'delivered' | 'tagged' | 'redirected' | 'quarantined' | 'discarded' | 'rejected';

export interface RecipientFate {
  recipient: string;
  fate: Fate;
  policy: string;
  via: string;
  reason: string;
  score: number | null;
}

export interface CopyGroup {
  recipients: string[];
  hold: HoldRequest | null;
  /** Subject prefix for this copy, or null. */
  subjectTag: string | null;
  /** Header lines to add (CRLF-terminated). */
  headers: string[];
  label: 'clean' | 'tagged' | 'quarantined';
}

export interface DeliveryPlan {
  reject: SmtpReply | null;
  copies: CopyGroup[];
  fates: RecipientFate[];
}

export interface PlanOptions {
  spam: SpamResult | undefined;
  /** Add X-Spam headers (inbound mail, or outbound when it was scanned). */
  spamHeaders: boolean;
  /** A quarantine store is present; without one a hold becomes a tagged delivery. */
  canHold: boolean;
}

function publicReason(d: RecipientDecision): SmtpReply {
  switch (d.category) {
    case 'list':
      return { code: 554, enhanced: '5.7.1', message: 'Message refused: the sender is blocked by the recipient\'s policy' };
    case 'malware':
      return { code: 550, enhanced: '5.7.1', message: `Message rejected: it contains malware (${d.reason.replace(/^malware: /, '').replace(/ \(policy [^)]*\)$/, '')})` };
    case 'banned':
      return { code: 550, enhanced: '5.7.1', message: `Message rejected: ${d.reason.replace(/ \(policy [^)]*\)$/, '')} is not allowed` };
    case 'spam':
      return { code: 550, enhanced: '5.7.1', message: `Message rejected as spam (score ${d.score ?? '?'})` };
    case 'rule': {
      const text = /^message rule [^:]+: (.*) \(policy/.exec(d.reason)?.[1];
      return { code: 550, enhanced: '5.7.1', message: text ? `Message rejected: ${text}` : 'Message rejected by policy' };
    }
    default:
      return { code: 550, enhanced: '5.7.1', message: 'Message rejected by policy' };
  }
}

export function planDelivery(decisions: readonly RecipientDecision[], o: PlanOptions): DeliveryPlan {
  const fates: RecipientFate[] = [];
  const fate = (d: RecipientDecision, f: Fate, reason = d.reason) =>
    fates.push({ recipient: d.address, fate: f, policy: d.policy, via: d.via, reason, score: d.score });

  const accepting = decisions.filter((d) => d.action !== 'reject' && d.action !== 'discard');
  const firstReject = decisions.find((d) => d.action === 'reject');
  if (firstReject && accepting.length === 0) {
    for (const d of decisions) fate(d, d.action === 'reject' ? 'rejected' : 'discarded');
    return { reject: publicReason(firstReject), copies: [], fates };
  }

  const groups = new Map<string, CopyGroup>();
  for (const d0 of decisions) {
    let d = d0;
    let note = '';
    if (d.action === 'reject') {
      d = { ...d, action: 'quarantine' };
      note = '; held instead of rejected because other recipients accept the message';
    }
    if (d.action === 'discard') {
      fate(d, 'discarded');
      continue;
    }
    if (d.action === 'quarantine' && !o.canHold) {
      d = { ...d, action: 'tag' };
      note += '; delivered tagged: no quarantine store';
    }
    const hold: HoldRequest | null =
      d.action === 'quarantine'
        ? { category: d.category === 'list' || d.category === null ? 'rule' : d.category, score: d.score, symbols: o.spam?.symbols ?? [], reason: d.reason + note }
        : null;
    const tagged = !hold && (d.action === 'tag' || d.spamTag);
    const isSpam = tagged || (hold !== null && d.category === 'spam');
    const headers = [
      ...(o.spamHeaders ? spamHeaders({ spam: o.spam, score: d.score, isSpam, skipped: d.spamSkipped }) : []),
      ...d.headers,
    ];
    // A copy held instead of rejected, or delivered for want of a quarantine store, was
    // judged at a level beyond the subject-tag level: its Subject is marked.
    const subjectTagged = tagged && (d.subjectTagged || (d.category !== 'spam' && d.category !== null));
    const key = hold ? `hold\u0000${hold.category}\u0000${hold.reason}` : `${subjectTagged ? d.subjectTag : ''}\u0000${headers.join('')}`;
    let g = groups.get(key);
    if (!g) {
      g = { recipients: [], hold, subjectTag: subjectTagged ? d.subjectTag : null, headers, label: hold ? 'quarantined' : tagged ? 'tagged' : 'clean' };
      groups.set(key, g);
    }
    // A redirect (message rule) sends the delivered copy elsewhere; a held copy stays the recipient's.
    const to = !hold && d.redirect ? d.redirect.to : d.address;
    if (!g.recipients.some((a) => a.toLowerCase() === to.toLowerCase())) g.recipients.push(to);
    if (!hold && d.redirect) fate(d, 'redirected', `to ${d.redirect.to} by message rule ${d.redirect.rule}; ${d.reason}${note}`);
    else fate(d, hold ? 'quarantined' : tagged ? 'tagged' : 'delivered', d.reason + note);
  }
  // Copies for delivery first: the first one keeps the message's queue id.
  const copies = [...groups.values()].sort((a, b) => Number(a.hold !== null) - Number(b.hold !== null));
  return { reject: null, copies, fates };
}
