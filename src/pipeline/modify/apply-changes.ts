// The modify step for one message, shared by the pipeline stage and `hermes preview`:
// choose the rules, render their blocks, run the MIME walker, and say in one trace
// record what was applied to which parts, or why nothing was. Anything unexpected
// (a message mailsplit cannot read, an internal error) leaves the message exactly as
// it was: a body change is never worth a lost or mangled message.
import type { BodyConfig } from './body-config.ts';
import { chooseChanges, type MessageFacts } from './choose-rules.ts';
import type { ChangeKind, Insertion } from './insertion.ts';
import { changeBodies, type PartReport, type WalkOutcome } from './mime-walk.ts';
import { authorOf, renderInsertion } from './render.ts';

export interface ApplyInput {
  message: Buffer;
  fromOurNetwork: boolean;
  clientIp: string;
  envelopeSender: string;
  recipients: string[];
  relayDomains: { has(domain: string): boolean };
  receivedAt: Date;
}

export interface ApplyResult {
  /** The message to send on: changed, or the very same Buffer. */
  message: Buffer;
  changed: boolean;
  /** For the trace; null when no body-change rule exists at all. */
  trace: Record<string, unknown> | null;
}

function describeParts(parts: PartReport[], kind: ChangeKind): string[] {
  return parts.filter((p) => p.applied.includes(kind)).map((p) => `${p.part} ${p.contentType} (${p.charset}, ${p.encoding}${p.images ? `, ${p.images} inline image(s)` : ''})`);
}

export async function applyBodyChanges(config: BodyConfig, input: ApplyInput): Promise<ApplyResult> {
  const unchanged = (trace: Record<string, unknown> | null): ApplyResult => ({ message: input.message, changed: false, trace });
  if (!config.active) return unchanged(null);

  const facts: MessageFacts = {
    fromOurNetwork: input.fromOurNetwork,
    clientIp: input.clientIp,
    sender: authorOf(input.message)?.address ?? input.envelopeSender.toLowerCase(),
    envelopeSender: input.envelopeSender.toLowerCase(),
    recipients: input.recipients.map((r) => r.toLowerCase()),
    relayDomains: input.relayDomains,
  };
  const choices = chooseChanges(config, facts);
  const trace: Record<string, unknown> = {};
  const insertions: Insertion[] = [];
  for (const c of choices) {
    if ('reason' in c) trace[c.kind] = { skipped: c.reason };
    else {
      trace[c.kind] = { rule: c.rule.id, scope: c.rule.scope === 'all' ? 'all' : `${c.rule.scope} ${c.rule.value}`, template: c.rule.template.name };
      insertions.push(renderInsertion(c.rule, { message: input.message, envelopeSender: input.envelopeSender, receivedAt: input.receivedAt, senderFields: config.senderFields }));
    }
  }
  if (!choices.length) return unchanged(null);
  if (!insertions.length) return unchanged(trace);

  const skipAll = (reason: string) => {
    for (const ins of insertions) (trace[ins.kind] as Record<string, unknown>).skipped = reason;
    return unchanged(trace);
  };
  let walked: WalkOutcome;
  try {
    walked = await changeBodies(input.message, insertions);
  } catch (err) {
    return skipAll(`parse failure, the message goes on unchanged: ${(err as Error).message}`);
  }
  if (walked.protected) return skipAll(`not changed: ${walked.protected}`);
  if (!walked.parts.length) return skipAll('not changed: the message has no text/plain or text/html body part');

  for (const ins of insertions) {
    const t = trace[ins.kind] as Record<string, unknown>;
    const parts = describeParts(walked.parts, ins.kind);
    if (parts.length) t.parts = parts;
    const present = walked.parts.filter((p) => p.present?.includes(ins.kind)).map((p) => `${p.part} ${p.contentType}`);
    if (present.length) t.alreadyPresent = present;
    const skippedParts = walked.parts.filter((p) => p.skipped).map((p) => `${p.part} ${p.contentType}: ${p.skipped}`);
    if (skippedParts.length) t.skippedParts = skippedParts;
    if (!parts.length) t.skipped = present.length ? `already in the message (quoted), not added again` : 'no body part could take it';
  }
  if (!walked.changed) return unchanged(trace);
  return { message: walked.message, changed: true, trace };
}
