// The attachment stage: judges every file of the message (attachments, members of zip
// archives, files in attached messages) against the file rule sets its recipients'
// policies use, and records the banned ones in ctx.findings.banned, each tagged with
// the set that banned it. It never refuses or changes the message: the decide stage
// picks, per recipient, the findings of that recipient's set and acts on them.
import type { Email } from 'postal-mime';
import type { MessageContext, Stage } from '../../context.ts';
import type { BannedAttachment } from '../findings.ts';
import { DEFAULT_RULE_SET_NAME } from './default-rules.ts';
import { messageInspection, shareParsedEmail } from './message-cache.ts';
import type { InspectLimits } from './inspect.ts';
import { evaluateFileRuleSet, type FileRuleSetLookup } from './rules.ts';
import { noteMalformed } from '../malformed.ts';

export interface AttachmentStageOptions {
  /** Finds a rule set by name (FileRuleSetStore.lookup). */
  ruleSets: FileRuleSetLookup;
  /**
   * Names of the rule sets to judge this message by: those of its recipients'
   * policies. Default: just "default".
   */
  ruleSetNames?: (ctx: MessageContext) => readonly string[] | Promise<readonly string[]>;
  /** The message as parsed elsewhere (postal-mime, from ctx.original), if it was. */
  parsed?: (ctx: MessageContext) => Email | Promise<Email> | undefined;
  limits?: InspectLimits;
}

export function attachmentStage(o: AttachmentStageOptions): Stage {
  return {
    name: 'attachments',
    async run(ctx) {
      const given = o.parsed?.(ctx);
      if (given) shareParsedEmail(ctx, given);
      let files;
      try {
        files = (await messageInspection(ctx, o.limits)).files;
      } catch (err) {
        // Mail that cannot be parsed has no files to judge; it is a malformed message,
        // which decide holds or refuses (filter.malformedAction), so it is not waved through.
        ctx.trace('attachments', { error: `message could not be parsed: ${(err as Error).message}` });
        noteMalformed(ctx, 'attachments', err);
        ctx.findings.banned = [];
        return;
      }
      const names = [...new Set((await o.ruleSetNames?.(ctx)) ?? [DEFAULT_RULE_SET_NAME])];
      const banned: BannedAttachment[] = [];
      const missing: string[] = [];
      for (const name of names) {
        let set = await o.ruleSets(name);
        if (!set) {
          // A policy naming a deleted set still gets the default rules, never none;
          // the findings keep the name the policy asked for, as decide matches on it.
          missing.push(name);
          set = await o.ruleSets(DEFAULT_RULE_SET_NAME);
        }
        if (set) for (const b of evaluateFileRuleSet(set, files)) banned.push({ ...b, ruleSet: name });
      }
      if (missing.length) ctx.log.warn({ ruleSets: missing }, 'file rule set not found; the default rules were used');
      ctx.findings.banned = banned;
      ctx.trace('attachments', {
        files: files.length,
        ruleSets: names,
        ...(missing.length ? { missingRuleSets: missing } : {}),
        banned: banned.map((b) => ({ file: b.filename, ruleSet: b.ruleSet, rule: b.rule, reason: b.reason })),
      });
    },
  };
}
