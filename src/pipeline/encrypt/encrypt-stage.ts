// The encrypt stage: per copy, after modify and before DKIM signing, so DKIM signs and
// ARC seals the bytes that are actually sent. Outbound mail only (from the relay
// networks). For each recipient the policy (policy.ts) says never / sign /
// opportunistic / always; the subject keyword forces 'always'. The first method that
// can serve a recipient (S/MIME, then PGP, then, for 'always' only, PDF) is used; a
// recipient no method can serve under 'always' has its copy held in the quarantine
// and the sender is told why. Recipients of one copy that need different treatment are
// split into copies of their own (ctx.split; the pipeline runs this stage again on each).
import type { Settings } from '../../config/settings.ts';
import type { CopyPlan, MessageContext, Stage } from '../context.ts';
import { headerBlock, getHeader } from '../headers.ts';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { FALLBACK_ORDER, type EncryptionMethod, type EncryptionMethodName, type SideMail } from './method.ts';
import { policyFor, takeSubjectKeyword, type EncryptionPolicy } from './policy.ts';
import { holdNotice } from './hold-notice.ts';

export interface EncryptStageOptions {
  /** The methods installed (any order; tried in FALLBACK_ORDER). */
  methods: () => readonly EncryptionMethod[];
  settings: () => Settings;
  /** Queues a mail besides the message (the hold notice to the sender, a method's side mails). */
  sendSideMail: (ctx: MessageContext, mail: SideMail) => Promise<void>;
  /** The gateway's host name (the hold notice's From). */
  hostname: string;
  now?: () => Date;
}

/** What one recipient gets, and why. */
export type Treatment =
  | { kind: 'plain'; reason: string }
  | { kind: 'sign'; reason: string }
  | { kind: 'encrypt'; method: EncryptionMethodName; reason: string }
  | { kind: 'hold'; reason: string };

export interface RecipientDecision {
  recipient: string;
  policy: EncryptionPolicy;
  policyFrom: string;
  forced: boolean;
  treatment: Treatment;
}

function groupKey(t: Treatment): string {
  return t.kind === 'encrypt' ? `encrypt:${t.method}` : t.kind;
}

/** The From address (lower case), '' when there is none. */
export function fromAddress(message: Buffer): string {
  const from = getHeader(headerBlock(message), 'From');
  if (!from) return '';
  return (addressparser(from, { flatten: true })[0]?.address ?? '').toLowerCase();
}

/** Decides what one recipient gets: the policy, then the first method that can serve it. */
export async function decideRecipient(recipient: string, settings: Settings, methods: readonly EncryptionMethod[], forced: boolean, now: Date): Promise<RecipientDecision> {
  const resolved = policyFor(settings, recipient);
  const policy: EncryptionPolicy = forced ? 'always' : resolved.policy;
  const base = { recipient, policy, policyFrom: forced ? `subject keyword (policy ${resolved.policy} from ${resolved.from})` : resolved.from, forced };
  if (policy === 'never') return { ...base, treatment: { kind: 'plain', reason: `policy never (${resolved.from})` } };
  if (policy === 'sign') return { ...base, treatment: { kind: 'sign', reason: `policy sign (${resolved.from})` } };
  const order = FALLBACK_ORDER.filter((m) => policy === 'always' || m !== 'pdf');
  const why: string[] = [];
  for (const name of order) {
    const method = methods.find((m) => m.name === name);
    if (!method) {
      why.push(`${name}: not installed`);
      continue;
    }
    const a = await method.availableFor(recipient, now);
    if (a.ok) return { ...base, treatment: { kind: 'encrypt', method: name, reason: a.detail ?? `${name} key known` } };
    why.push(`${name}: ${a.reason}`);
  }
  const reason = why.join('; ');
  return { ...base, treatment: policy === 'always' ? { kind: 'hold', reason } : { kind: 'plain', reason: `opportunistic, no key: ${reason}` } };
}

export function encryptStage(o: EncryptStageOptions): Stage {
  const now = o.now ?? (() => new Date());
  return {
    name: 'encrypt',
    async run(ctx: MessageContext) {
      if (!ctx.client.trusted || ctx.hold) return; // outbound only; a held copy stays as it is
      const settings = o.settings();
      const keyword = takeSubjectKeyword(ctx.body, settings['encryption.subjectKeyword']);
      const forced = keyword !== null;
      if (!forced && settings['encryption.policy'] === 'never' && !hasPolicies(settings)) return; // the common case: nothing to do
      const methods = o.methods();
      const at = now();
      const decisions: RecipientDecision[] = [];
      for (const r of ctx.recipients) decisions.push(await decideRecipient(r.address, settings, methods, forced, at));
      const groups = new Map<string, RecipientDecision[]>();
      for (const d of decisions) groups.set(groupKey(d.treatment), [...(groups.get(groupKey(d.treatment)) ?? []), d]);
      ctx.trace('encrypt-decision', {
        ...(forced ? { keyword: settings['encryption.subjectKeyword'] } : {}),
        recipients: decisions.map((d) => ({ address: d.recipient, policy: d.policy, from: d.policyFrom, treatment: groupKey(d.treatment), reason: d.treatment.reason })),
      });
      if (groups.size > 1) {
        // Different treatments: one copy per treatment; this stage runs again on each.
        ctx.split = [...groups.entries()].map(([label, ds]): CopyPlan => {
          const set = new Set(ds.map((d) => d.recipient));
          return { recipients: ctx.recipients.filter((r) => set.has(r.address)), hold: null, label: `encryption ${label}`, apply: () => {} };
        });
        return;
      }
      const treatment = decisions[0]!.treatment;
      const message = keyword?.message ?? ctx.body;
      const input = {
        message,
        sender: fromAddress(message),
        envelopeSender: ctx.mailFrom,
        recipients: ctx.recipients.map((r) => r.address),
        sign: settings['encryption.signEncrypted'],
        now: at,
      };
      if (treatment.kind === 'plain') {
        ctx.body = message;
        return;
      }
      if (treatment.kind === 'hold') return hold(ctx, o, message, treatment.reason);
      if (treatment.kind === 'sign') {
        for (const name of FALLBACK_ORDER) {
          const m = methods.find((x) => x.name === name);
          if (!m?.sign) continue;
          try {
            const res = await m.sign({ ...input, sign: true });
            if ('unsignedReason' in res) {
              ctx.trace('encrypt', { action: 'sign', method: name, skipped: res.unsignedReason });
              continue;
            }
            ctx.body = res.message;
            ctx.trace('encrypt', { action: 'signed', method: name, ...res.detail });
            return;
          } catch (err) {
            ctx.log.error({ err }, `${name} signing failed`);
            ctx.trace('encrypt', { action: 'sign', method: name, error: (err as Error).message });
          }
        }
        ctx.body = message;
        ctx.trace('encrypt', { action: 'plain', reason: 'policy sign, but no method could sign for this sender' });
        return;
      }
      // Encrypt with the chosen method; should it fail, the next ones that can serve every recipient.
      const policy = decisions.some((d) => d.policy === 'always') ? 'always' : 'opportunistic';
      const tried: string[] = [];
      for (const name of FALLBACK_ORDER.slice(FALLBACK_ORDER.indexOf(treatment.method))) {
        if (name === 'pdf' && policy !== 'always') break;
        const m = methods.find((x) => x.name === name);
        if (!m) continue;
        if (name !== treatment.method && !(await allAvailable(m, input.recipients, at))) continue;
        try {
          const res = await m.encrypt(input);
          ctx.body = res.message;
          ctx.trace('encrypt', { action: 'encrypted', method: name, recipients: input.recipients, ...res.detail });
          for (const side of res.sideMails ?? []) await o.sendSideMail(ctx, side);
          return;
        } catch (err) {
          ctx.log.error({ err }, `${name} encryption failed`);
          tried.push(`${name} failed: ${(err as Error).message}`);
          ctx.trace('encrypt', { action: 'encrypt', method: name, error: (err as Error).message });
        }
      }
      if (policy === 'always') return hold(ctx, o, message, tried.join('; '));
      ctx.body = message;
      ctx.trace('encrypt', { action: 'plain', reason: `opportunistic, encryption failed: ${tried.join('; ')}` });
    },
  };
}

function hasPolicies(s: Settings): boolean {
  return Object.keys(s['encryption.domainPolicies']).length > 0 || Object.keys(s['encryption.recipientPolicies']).length > 0;
}

async function allAvailable(m: EncryptionMethod, recipients: string[], at: Date): Promise<boolean> {
  for (const r of recipients) if (!(await m.availableFor(r, at)).ok) return false;
  return true;
}

/** Holds the copy in the quarantine (category encryption) and tells the sender why. */
async function hold(ctx: MessageContext, o: EncryptStageOptions, message: Buffer, reason: string): Promise<void> {
  const recipients = ctx.recipients.map((r) => r.address);
  const line = `encryption required for ${recipients.join(', ')} but not possible: ${reason}`;
  ctx.body = message;
  ctx.hold = { category: 'encryption', score: null, symbols: [], reason: line };
  ctx.trace('encrypt', { action: 'held', recipients, reason });
  const to = ctx.mailFrom || fromAddress(message);
  if (!ctx.mailFrom) return; // never answer the null sender (a bounce loop)
  try {
    await o.sendSideMail(ctx, { to, message: holdNotice({ hostname: o.hostname, to, original: message, recipients, reason, queueId: ctx.id }) });
    ctx.trace('encrypt', { action: 'sender-notified', to });
  } catch (err) {
    // The message itself is safe in the quarantine; the notice is best effort.
    ctx.log.error({ err }, 'cannot queue the encryption hold notice');
    ctx.trace('encrypt', { action: 'sender-notice-failed', error: (err as Error).message });
  }
}
