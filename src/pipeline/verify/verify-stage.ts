// The verify stage: first in the pipeline, on the bytes as received, for mail from
// outside the relay networks. SPF, DKIM, DMARC and ARC (verifyMessage), our own
// Authentication-Results on top, forged ones under our authserv-id removed, then the
// configured policy (enforceAuthPolicy): reject or tempfail in the session here; a
// quarantine or tag verdict goes on in ctx.auth for the decide stage, which holds or tags
// the message like its other verdicts (category 'auth').
import type { MessageContext, SmtpReply, Stage } from '../context.ts';
import type { Settings } from '../../config/settings.ts';
import { stripOurAuthResults, verifyMessage, type AuthVerdict, type Resolver } from './authenticate.ts';
import { bypassFor, enforceAuthPolicy, type AuthDecision, type AuthPolicyConfig } from './dmarc-enforce.ts';

export interface VerifyStageOptions {
  /** Our authserv-id: the gateway's host name. */
  authservId: string;
  /** Every lookup goes through the gateway's resolver (DnsResolver.resolve). */
  resolver: Resolver;
  /** The current settings (PolicyStore.cached().settings). */
  settings: () => Settings;
  /** DMARC pct sampling, a number in [0, 1) (tests fix it). */
  sample?: () => number;
}

export function authPolicyConfig(s: Settings): AuthPolicyConfig {
  return {
    dmarcReject: s['auth.dmarcReject'],
    dmarcQuarantine: s['auth.dmarcQuarantine'],
    spfHardFail: s['auth.spfHardFail'],
    onTempError: s['auth.onTempError'],
    bypass: { spf: s['auth.bypass.spf'], dkim: s['auth.bypass.dkim'], dmarc: s['auth.bypass.dmarc'] },
    trustedArcSealers: s['auth.trustedArcSealers'],
  };
}

/** The verdict in a few readable fields, for the message trace. */
export function authTrace(v: AuthVerdict, d: AuthDecision): Record<string, unknown> {
  const spf = v.spf.skipped ? 'bypassed' : `${v.spf.result} (${v.spf.identity} ${v.spf.domain})`;
  const dkim = v.dkim.length
    ? v.dkim.map((k) => `${k.result} d=${k.domain} s=${k.selector} a=${k.algorithm}${k.comment ? ` (${k.comment})` : ''}`)
    : ['none'];
  const m = v.dmarc;
  // The comment repeats the policy ("p=REJECT sp=REJECT"); keep only what it adds.
  const why = (m.comment ?? '').split('; ').filter((c) => c && !/^p=\S+ sp=\S+$/.test(c)).join('; ');
  const dmarc = m.skipped
    ? `not evaluated (${m.comment ?? 'bypassed'})`
    : `${m.result}${m.domain ? ` from=${m.domain}` : ''}${m.policy ? ` p=${m.policy}` : ''}${m.pct < 100 ? ` pct=${m.pct}` : ''}${why && m.result !== 'pass' ? ` (${why})` : ''}`;
  const a = v.arc;
  const arc = a.skipped
    ? 'bypassed'
    : `${a.result}${a.instance ? ` i=${a.instance}` : ''}${a.sealer ? ` sealer=${a.sealer.domain}${a.trustedSealer ? ' (trusted)' : ''}` : ''}${a.comment && a.result !== 'pass' ? ` (${a.comment})` : ''}`;
  const out: Record<string, unknown> = { spf, dkim, dmarc, arc, action: d.action, reasons: d.reasons };
  if (v.spfHelo) out.spfHelo = `${v.spfHelo.result} (helo ${v.spfHelo.domain}; reported and scored, not enforced)`;
  if (d.arcOverride) out.arcOverride = true;
  if (v.dnsTempFailures.length) out.dnsFailures = v.dnsTempFailures.map((f) => `${f.phase}: ${f.rrtype} ${f.name} ${f.code}`);
  return out;
}

const VERIFY_FAILED: SmtpReply = {
  code: 451,
  enhanced: '4.7.0',
  message: 'Temporary failure checking the sender authentication; please try again later',
};

export function verifyStage(o: VerifyStageOptions): Stage {
  const sample = o.sample ?? Math.random;
  return {
    name: 'verify',
    async run(ctx: MessageContext) {
      if (ctx.client.trusted) return; // our own servers: signed and sealed later, not judged
      const s = o.settings();

      // RFC 8601 5: results claiming to be ours can only be forgeries when they come from
      // outside; remove them whether or not we verify, so none reaches the mailboxes.
      const stripped = stripOurAuthResults(ctx.body, o.authservId);
      const forgedRemoved = stripped !== ctx.body;
      ctx.body = stripped;

      if (!s['auth.verify']) {
        ctx.trace('auth', { skipped: 'sender authentication is off (auth.verify=false)', ...(forgedRemoved ? { forgedResultsRemoved: true } : {}) });
        return;
      }
      const config = authPolicyConfig(s);
      let verdict: AuthVerdict;
      try {
        verdict = await verifyMessage({
          raw: ctx.original,
          clientIp: ctx.client.ip,
          helo: ctx.client.helo ?? '',
          mailFrom: ctx.mailFrom,
          authservId: o.authservId,
          resolver: o.resolver,
          trustedArcSealers: s['auth.trustedArcSealers'],
          bypass: bypassFor(config, { clientIp: ctx.client.ip, mailFrom: ctx.mailFrom }),
          lookupTimeoutMs: s['auth.dnsTimeoutMs'],
        });
      } catch (err) {
        // verifyMessage turns everything a sender controls into a result; reaching here
        // is a fault of ours, handled like a DNS failure: never a silent pass.
        ctx.log.error({ err }, 'sender authentication failed');
        const tempfail = s['auth.onTempError'] === 'tempfail';
        ctx.trace('auth', { error: (err as Error).message, action: tempfail ? 'tempfail' : 'accept (auth.onTempError=neutral)' });
        if (tempfail) ctx.reject = VERIFY_FAILED;
        return;
      }

      ctx.prepend.push(verdict.authResultsHeader);
      const decision = enforceAuthPolicy(verdict, config, sample());
      ctx.auth = { verdict, decision };
      const detail = authTrace(verdict, decision);
      if (forgedRemoved) detail.forgedResultsRemoved = true;

      switch (decision.action) {
        case 'reject':
        case 'tempfail':
          ctx.reject = decision.smtpReply ?? (decision.action === 'reject' ? { code: 550, enhanced: '5.7.1', message: 'Message rejected: sender authentication failed' } : VERIFY_FAILED);
          break;
        case 'quarantine':
          detail.applied = 'to be held in the quarantine by the decide stage (category auth)';
          break;
        case 'tag':
          detail.applied = 'to be tagged by the decide stage (subject tag, as for spam)';
          break;
        case 'accept':
          break;
      }
      ctx.trace('auth', detail);
    },
  };
}
