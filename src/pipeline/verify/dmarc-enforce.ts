// What to do with a message, given its authentication verdict and the configured
// policy. Pure: no I/O, no clock; the only randomness (DMARC pct sampling) comes in as
// a parameter.
//
//   DMARC  p=reject      → 550 5.7.1 in the session (or handled as quarantine when
//                          dmarcReject is off)
//          p=quarantine  → quarantine | tag | nothing (dmarcQuarantine)
//          p=none        → nothing (monitoring)
//          pct < 100     → a message outside the sample gets the next milder policy (RFC 7489 6.6.4)
//   SPF    fail          → nothing | tag | 550 5.7.23 (spfHardFail), unless DMARC passed
//   DNS    temperror     → 451 (tempfail, default) or ignored (onTempError: 'neutral'),
//                          only where the missing answer could change the outcome
//   Bypass lists (sender domain or client network) switch off the SPF, DKIM or DMARC action.
//   Trusted ARC sealers: DMARC (or SPF) fails here, but a valid chain whose newest seal
//   is from a trusted sealer recorded an aligned pass upstream → treated as passing.
import type { SmtpReply } from '../context.ts';
import { NetworkSet } from '../../smtp/cidr.ts';
import type { AuthVerdict, DmarcPolicy } from './authenticate.ts';

export type AuthAction = 'accept' | 'tag' | 'quarantine' | 'reject' | 'tempfail';

export interface BypassList {
  /** Sender domains; a name also covers its subdomains. Matched against MAIL FROM and From. */
  domains?: string[];
  /** Client networks (CIDR or single addresses). */
  networks?: string[];
}

export interface AuthPolicyConfig {
  /** p=reject → reject in the session (default true); false handles it as p=quarantine. */
  dmarcReject?: boolean;
  /** What p=quarantine does (default 'quarantine': held by the decide stage; 'tag': subject tag as for spam). */
  dmarcQuarantine?: 'quarantine' | 'tag' | 'none';
  /** What an SPF hard fail does on its own (default 'none'). */
  spfHardFail?: 'none' | 'tag' | 'reject';
  /** A DNS temperror that could change the outcome: 451 (default) or go on as if neutral. */
  onTempError?: 'tempfail' | 'neutral';
  bypass?: { spf?: BypassList; dkim?: BypassList; dmarc?: BypassList };
  /** ARC-Seal d= domains whose recorded upstream results we trust; default: verdict.arc.trustedSealer. */
  trustedArcSealers?: string[];
}

export interface AuthDecision {
  action: AuthAction;
  smtpReply?: SmtpReply;
  /** Human-readable, for the trace; one entry per rule that fired. */
  reasons: string[];
  /** The trusted-ARC override was used. */
  arcOverride?: boolean;
}

const SEVERITY: Record<AuthAction, number> = { accept: 0, tag: 1, quarantine: 2, tempfail: 3, reject: 4 };

function domainMatches(domain: string, list: readonly string[]): string | null {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (!d) return null;
  for (const raw of list) {
    const e = raw.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
    if (e && (d === e || d.endsWith(`.${e}`))) return raw;
  }
  return null;
}

function domainOf(addr: string): string {
  const at = addr.lastIndexOf('@');
  return at >= 0 ? addr.slice(at + 1) : '';
}

/** Which bypass list (if any) covers this message, with the reason. */
export function matchBypass(
  list: BypassList | undefined,
  subject: { clientIp: string; domains: readonly string[] },
): string | null {
  if (!list) return null;
  for (const d of subject.domains) {
    const hit = domainMatches(d, list.domains ?? []);
    if (hit) return `sender domain ${d} matches ${hit}`;
  }
  if (list.networks?.length && subject.clientIp && new NetworkSet(list.networks).contains(subject.clientIp)) {
    return `client ${subject.clientIp} is in a bypass network`;
  }
  return null;
}

/**
 * The checks the bypass lists switch off for this sender, for callers that want to skip
 * the lookups altogether (verifyMessage's `bypass`). Only the envelope is known before
 * the header is read, so only MAIL FROM and the client address count here.
 */
export function bypassFor(config: AuthPolicyConfig, env: { clientIp: string; mailFrom: string }): { spf: boolean; dkim: boolean; dmarc: boolean } {
  const subject = { clientIp: env.clientIp, domains: [domainOf(env.mailFrom)].filter(Boolean) };
  return {
    spf: !!matchBypass(config.bypass?.spf, subject),
    dkim: !!matchBypass(config.bypass?.dkim, subject),
    dmarc: !!matchBypass(config.bypass?.dmarc, subject),
  };
}

const REPLIES = {
  dmarcReject: (domain: string): SmtpReply => ({
    code: 550,
    enhanced: '5.7.1',
    message: `Message rejected: it fails the DMARC policy (p=reject) of ${domain}`,
  }),
  spfReject: (ip: string, domain: string): SmtpReply => ({
    code: 550,
    enhanced: '5.7.23',
    message: `SPF validation failed: ${domain} does not permit ${ip} to send its mail`,
  }),
  spfTemp: (domain: string): SmtpReply => ({
    code: 451,
    enhanced: '4.7.24',
    message: `Temporary DNS failure checking the SPF policy of ${domain}; please try again later`,
  }),
  dmarcTemp: (domain: string): SmtpReply => ({
    code: 451,
    enhanced: '4.7.1',
    message: `Temporary DNS failure checking the sender authentication (DMARC) of ${domain}; please try again later`,
  }),
};

/** Next milder policy for a message outside the pct sample (RFC 7489 6.6.4). */
function milder(p: DmarcPolicy): DmarcPolicy {
  return p === 'reject' ? 'quarantine' : 'none';
}

/**
 * @param sample a number in [0, 1) for pct sampling; pass a fixed value (e.g. derived
 * from the queue id) for reproducible decisions. Default Math.random().
 */
export function enforceAuthPolicy(verdict: AuthVerdict, config: AuthPolicyConfig = {}, sample: number = Math.random()): AuthDecision {
  const dmarcReject = config.dmarcReject ?? true;
  const dmarcQuarantine = config.dmarcQuarantine ?? 'quarantine';
  const spfHardFail = config.spfHardFail ?? 'none';
  const onTempError = config.onTempError ?? 'tempfail';

  const reasons: string[] = [];
  let action: AuthAction = 'accept';
  let reply: SmtpReply | undefined;
  let arcOverride = false;
  const raise = (a: AuthAction, r?: SmtpReply) => {
    if (SEVERITY[a] > SEVERITY[action]) {
      action = a;
      reply = r;
    }
  };

  const mailFromDomain = domainOf(verdict.envelope.mailFrom);
  const fromDomain = verdict.from.domain ?? '';
  const subject = { clientIp: verdict.envelope.clientIp, domains: [...new Set([mailFromDomain, fromDomain].filter(Boolean))] };

  // Trusted ARC: a valid chain, newest seal by a trusted sealer, which recorded an aligned pass.
  const arc = verdict.arc;
  const trustedList = config.trustedArcSealers?.map(s => s.trim().toLowerCase().replace(/\.$/, ''));
  const sealerTrusted = !!arc.sealer && (trustedList ? trustedList.includes(arc.sealer.domain) : arc.trustedSealer);
  const upstream = arc.result === 'pass' && sealerTrusted ? arc.upstream : undefined;
  const upstreamPass = upstream
    ? upstream.alignedPass.dmarc
      ? 'dmarc=pass'
      : upstream.alignedPass.dkim
        ? 'an aligned dkim=pass'
        : upstream.alignedPass.spf
          ? 'an aligned spf=pass'
          : null
    : null;
  const arcReason = (what: string) =>
    `${what} overridden: valid ARC chain (i=${arc.instance}) sealed by trusted sealer ${arc.sealer?.domain} recorded ${upstreamPass} at ${upstream?.authservId || 'the previous hop'}`;
  // The sealer is one we trust, but its chain could not be checked because of DNS.
  const arcTempTrusted = arc.result === 'temperror' && sealerTrusted;

  // ---- DMARC
  const dmarc = verdict.dmarc;
  const dmarcBypass = matchBypass(config.bypass?.dmarc, subject);
  if (dmarc.skipped) {
    reasons.push(`DMARC not evaluated (${dmarc.comment ?? 'skipped'})`);
  } else if (dmarc.result === 'pass') {
    reasons.push(`DMARC pass for ${dmarc.domain}`);
  } else if ((dmarc.result === 'fail' || dmarc.result === 'temperror') && dmarcBypass) {
    reasons.push(`DMARC ${dmarc.result} for ${dmarc.domain} ignored: bypass (${dmarcBypass})`);
  } else if ((dmarc.result === 'fail' || dmarc.result === 'temperror') && upstreamPass) {
    arcOverride = true;
    reasons.push(arcReason(`DMARC ${dmarc.result} for ${dmarc.domain}`));
  } else if (dmarc.result === 'fail') {
    let policy: DmarcPolicy = dmarc.policy ?? 'none';
    let deferred = false;
    if (policy !== 'none' && arcTempTrusted) {
      if (onTempError === 'tempfail') {
        deferred = true;
        raise('tempfail', REPLIES.dmarcTemp(dmarc.domain ?? ''));
        reasons.push(`DMARC fail for ${dmarc.domain} (p=${policy}), but the ARC chain sealed by trusted ${arc.sealer?.domain} could not be checked (DNS): try later`);
      } else {
        reasons.push(`DMARC fail for ${dmarc.domain} (p=${policy}); ARC chain by trusted ${arc.sealer?.domain} unchecked (DNS), onTempError=neutral: policy not applied`);
        policy = 'none';
      }
    }
    if (policy !== 'none' && dmarc.pct < 100 && sample >= dmarc.pct / 100) {
      reasons.push(`DMARC pct=${dmarc.pct}: message outside the sample, p=${policy} applied as p=${milder(policy)}`);
      policy = milder(policy);
    }
    if (policy === 'reject' && !dmarcReject) {
      reasons.push(`DMARC fail for ${dmarc.domain} with p=reject; rejecting is off, handled as p=quarantine`);
      policy = 'quarantine';
    }
    if (deferred) {
      // decided above: try again when the chain can be checked
    } else if (policy === 'reject') {
      raise('reject', REPLIES.dmarcReject(dmarc.domain ?? ''));
      reasons.push(`DMARC fail for ${dmarc.domain}, p=reject: rejected`);
    } else if (policy === 'quarantine') {
      if (dmarcQuarantine === 'none') reasons.push(`DMARC fail for ${dmarc.domain}, p=quarantine: no action configured`);
      else {
        raise(dmarcQuarantine);
        reasons.push(`DMARC fail for ${dmarc.domain}, p=quarantine: ${dmarcQuarantine === 'tag' ? 'tagged' : 'quarantined'}`);
      }
    } else if (policy === 'none') {
      reasons.push(`DMARC fail for ${dmarc.domain}, policy none: no action`);
    }
  } else if (dmarc.result === 'temperror') {
    // The policy is unknown (record lookup failed) or the failure may be a missing DKIM/SPF answer.
    if (dmarc.policy === 'none') {
      reasons.push(`DMARC temperror for ${dmarc.domain}, but its policy is p=none: no action`);
    } else if (onTempError === 'tempfail') {
      raise('tempfail', REPLIES.dmarcTemp(dmarc.domain ?? ''));
      reasons.push(`DMARC temperror for ${dmarc.domain} (${dmarc.comment ?? 'DNS'}): try later`);
    } else {
      reasons.push(`DMARC temperror for ${dmarc.domain} treated as neutral (onTempError=neutral)`);
    }
  } else if (dmarc.result === 'permerror') {
    reasons.push(`DMARC not applicable: ${dmarc.comment ?? 'permerror'}`);
  } else {
    reasons.push(`no DMARC policy for ${dmarc.domain ?? 'the sender'}`);
  }

  // ---- SPF
  const spf = verdict.spf;
  const spfBypass = matchBypass(config.bypass?.spf, subject);
  if (!spf.skipped && spfHardFail !== 'none' && (spf.result === 'fail' || spf.result === 'temperror')) {
    const what = `SPF ${spf.result} for ${spf.domain}`;
    if (spfBypass) reasons.push(`${what} ignored: bypass (${spfBypass})`);
    else if (dmarc.result === 'pass') reasons.push(`${what} ignored: DMARC passed (aligned DKIM)`);
    else if (upstreamPass) {
      arcOverride = true;
      reasons.push(arcReason(what));
    } else if (spf.result === 'fail') {
      if (spfHardFail === 'reject') raise('reject', REPLIES.spfReject(verdict.envelope.clientIp, spf.domain));
      else raise('tag');
      reasons.push(`${what}: ${spfHardFail === 'reject' ? 'rejected' : 'tagged'}`);
    } else if (spfHardFail === 'reject') {
      // A temperror only matters when a fail would have rejected.
      if (onTempError === 'tempfail') {
        raise('tempfail', REPLIES.spfTemp(spf.domain));
        reasons.push(`${what}: try later`);
      } else reasons.push(`${what} treated as neutral (onTempError=neutral)`);
    }
  }

  // ---- DKIM: no action of its own (it counts through DMARC); report a bypass for the trace.
  const dkimBypass = matchBypass(config.bypass?.dkim, subject);
  if (dkimBypass && verdict.dkim.some(d => d.result !== 'pass')) reasons.push(`DKIM results ignored: bypass (${dkimBypass})`);

  const out: AuthDecision = { action, reasons };
  if (reply) out.smtpReply = reply;
  if (arcOverride) out.arcOverride = true;
  return out;
}
