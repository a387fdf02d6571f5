// The spam stage: runs the built-in spam engine (rule checks, then Bayes) on the message
// as received and records the score and symbols in ctx.findings.spam. It never acts on
// the message: the decide stage turns the score into each recipient's action and adds
// the X-Spam headers. A check that throws is logged and traced and its symbols are
// missing from the score; only when every check failed is the message refused with 451,
// because a score of nothing would let anything through.
import type { Settings } from '../../config/settings.ts';
import type { MessageContext, SmtpReply, Stage } from '../context.ts';
import { Bayes, SpamEngine, defaultChecks, type BayesStore, type SpamAuthResults, type SpamCheck, type SpamInput, type SpamResult } from './spam/index.ts';
import { parsedEmail } from './attachments/message-cache.ts';
import { Autolearner } from './autolearn.ts';
import { noteMalformed } from './malformed.ts';
import { defaultSaRuleDirs, loadSaRuleSet, saRulesCheck, type SaRuleSet, type ScoreSet } from './spam/sa/index.ts';

export interface SpamStageOptions {
  settings: () => Settings;
  /** Where Bayes keeps its counts (SqlBayesStore in the gateway). */
  bayesStore: BayesStore;
  /** Domains this gateway receives mail for (relay domains). */
  localDomains: () => string[];
  /** Checks beyond the built-in ones (the DNS blocklist check). */
  extraChecks?: SpamCheck[];
  /** Why no recipient of this message wants spam checks (allow lists, policies), or null. */
  skip?: (ctx: MessageContext) => Promise<string | null> | string | null;
}

const ALL_CHECKS_FAILED: SmtpReply = { code: 451, enhanced: '4.7.1', message: 'Temporary failure scanning the message for spam; please try again later' };

export interface SpamStage extends Stage {
  readonly autolearner: Autolearner;
  engine(): SpamEngine;
  /** The SpamAssassin rule set in use, or null (spam.saRules off, or no rules installed). */
  saRules(): SaRuleSet | null;
}

/** The SpamAssassin rule directories the settings name (the defaults when they name none). */
export function saRuleDirs(s: Settings): string[] {
  return s['spam.saRulesDirs'].length ? [...s['spam.saRulesDirs']] : defaultSaRuleDirs();
}

/** The SpamAssassin rule set the settings ask for, loaded once (and again when its files change). */
export function saRuleSetFor(s: Settings): SaRuleSet | null {
  if (!s['spam.saRules']) return null;
  const dirs = saRuleDirs(s);
  return dirs.length ? loadSaRuleSet(dirs) : null;
}

/** "BAYES_99 (3.5): Bayes spam probability is 99 to 100%", for the trace. */
function symbolDetails(r: SpamResult): string[] {
  return [...r.symbols]
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name))
    .map((s) => `${s.name} (${Math.round(s.score * 1000) / 1000}): ${s.description}`);
}

/** The verify stage's results in the spam engine's terms. */
export function spamAuthResults(ctx: MessageContext): SpamAuthResults | undefined {
  const v = ctx.auth?.verdict;
  if (!v) return undefined;
  const dkim = v.dkim.some((d) => d.result === 'pass') ? 'pass' : v.dkim.length ? v.dkim[0]!.result : 'none';
  return {
    ...(v.spf.skipped ? {} : { spf: v.spf.result }),
    ...(v.spfHelo ? { spfHelo: v.spfHelo.result } : {}),
    dkim,
    ...(v.dmarc.skipped ? {} : { dmarc: v.dmarc.result }),
    ...(v.dmarc.policy ? { dmarcPolicy: v.dmarc.policy } : {}),
  };
}

/** "BAYES_99=3.5,HTML_ONLY=0.5": symbols sorted by weight, for headers and the trace. */
export function symbolList(r: SpamResult): string {
  return [...r.symbols]
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name))
    .map((s) => `${s.name}=${Math.round(s.score * 1000) / 1000}`)
    .join(',');
}

export function spamStage(o: SpamStageOptions): SpamStage {
  let engine: SpamEngine | null = null;
  let engineKey = '';
  let engineSa: SaRuleSet | null = null;
  const engineFor = (s: Settings): SpamEngine => {
    const key = `${s['spam.bayes']}/${s['spam.bayesMinSpam']}/${s['spam.bayesMinHam']}/${s['spam.saRulesWeight']}`;
    const sa = saRuleSetFor(s);
    if (!engine || key !== engineKey || sa !== engineSa) {
      const bayes = s['spam.bayes'] ? new Bayes(o.bayesStore, { minSpam: s['spam.bayesMinSpam'], minHam: s['spam.bayesMinHam'] }) : undefined;
      const checks = [...defaultChecks(), ...(o.extraChecks ?? [])];
      // SpamAssassin's score set: 2 (Bayes on, network tests off) once Bayes scores,
      // else 0. Readiness is looked up at most every 10 s: it changes once, after training.
      let ready: { at: number; set: ScoreSet } = { at: -Infinity, set: 0 };
      const scoreSet = async (): Promise<ScoreSet> => {
        if (!bayes) return 0;
        const now = Date.now();
        if (now - ready.at > 10_000) ready = { at: now, set: (await bayes.ready()) ? 2 : 0 };
        return ready.set;
      };
      if (sa) checks.push(saRulesCheck(sa, { scoreSet, weight: s['spam.saRulesWeight'] }));
      engine = new SpamEngine(bayes ? { checks, bayes } : { checks });
      engineKey = key;
      engineSa = sa;
    }
    return engine;
  };
  const autolearner = new Autolearner();
  // Compile the SpamAssassin rules (a second or so) before the first message waits for them.
  setImmediate(() => {
    try {
      engineFor(o.settings());
    } catch {
      /* settings not loaded yet: the first message compiles them */
    }
  }).unref();

  return {
    name: 'spam',
    autolearner,
    engine: () => engineFor(o.settings()),
    saRules: () => saRuleSetFor(o.settings()),
    async run(ctx) {
      const s = o.settings();
      if (!s['spam.enabled']) return void ctx.trace('spam', { skipped: 'the spam engine is off (spam.enabled=false)' });
      if (ctx.client.trusted && !s['spam.scanOutbound']) return; // outbound: malware and attachments only (spam.scanOutbound)
      if (ctx.lists?.allowAll) return; // the lists stage traced why
      const skip = await o.skip?.(ctx);
      if (skip) return void ctx.trace('spam', { skipped: skip });

      const eng = engineFor(s);
      let input: SpamInput;
      try {
        input = {
          raw: ctx.original,
          parsed: await parsedEmail(ctx),
          envelope: { mailFrom: ctx.mailFrom, rcptTo: ctx.recipients.map((r) => r.address), clientIp: ctx.client.ip, ...(ctx.client.helo ? { helo: ctx.client.helo } : {}) },
          localDomains: o.localDomains(),
          now: ctx.receivedAt,
        };
        const auth = spamAuthResults(ctx);
        if (auth) input.auth = auth;
      } catch (err) {
        ctx.log.warn({ err }, 'message could not be parsed for the spam checks');
        // Not a scan failure but the message itself: decide acts on the finding.
        ctx.trace('spam', { error: `message could not be parsed: ${(err as Error).message}` });
        noteMalformed(ctx, 'spam', err);
        return;
      }
      const t0 = performance.now();
      const result = await eng.scan(input);
      ctx.findings.spam = result;
      const checks = eng.checks.length + (eng.bayes ? 1 : 0);
      if (result.errors.length) ctx.log.warn({ errors: result.errors }, 'spam checks failed');
      ctx.trace('spam', {
        score: result.score,
        symbols: symbolList(result),
        details: symbolDetails(result),
        ...(result.checkMs?.['spamassassin-rules'] !== undefined ? { saRulesMs: Math.round(result.checkMs['spamassassin-rules'] * 10) / 10 } : {}),
        ...(result.errors.length ? { errors: result.errors.map((e) => `${e.check}: ${e.error}`) } : {}),
        ms: Math.round(performance.now() - t0),
      });
      if (result.errors.length >= checks) {
        ctx.reject = ALL_CHECKS_FAILED;
        return;
      }
      if (s['spam.autolearn'] && eng.bayes && !ctx.client.trusted && !result.errors.length) {
        autolearner.consider(eng.bayes, input, result, { spamAt: s['spam.autolearnSpamScore'], hamAt: s['spam.autolearnHamScore'] }, ctx);
      }
    },
  };
}
