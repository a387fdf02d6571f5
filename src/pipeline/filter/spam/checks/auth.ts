// Sender authentication results from the verify stage (SPF, DKIM, DMARC). Failures
// add score; passes only a little credit, because spammers authenticate their own
// domains too. DMARC failures weigh by the policy the domain owner published.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const AUTH_RULES = defineRules({
  SPF_FAIL: { score: 1.0, description: 'SPF: the sending host is not allowed to send for the envelope sender domain (fail)' },
  SPF_SOFTFAIL: { score: 0.5, description: 'SPF: the envelope sender domain says the host is probably not allowed (softfail)' },
  SPF_PERMERROR: { score: 0.3, description: 'SPF: the sender domain publishes a broken SPF record (permerror)' },
  SPF_HELO_FAIL: { score: 1.0, description: 'SPF: the HELO domain says this host may not use its name (fail)' },
  SPF_HELO_SOFTFAIL: { score: 0.3, description: 'SPF: the HELO domain says this host probably may not use its name (softfail)' },
  SPF_PASS: { score: -0.1, description: 'SPF: the sending host is allowed to send for the envelope sender domain' },
  DKIM_INVALID: { score: 0.5, description: 'DKIM: a signature is present but does not verify' },
  DKIM_VALID: { score: -0.1, description: 'DKIM: the message carries a valid signature' },
  DMARC_FAIL_REJECT: { score: 3.0, description: 'DMARC fails for the From domain, whose policy is reject' },
  DMARC_FAIL_QUARANTINE: { score: 2.0, description: 'DMARC fails for the From domain, whose policy is quarantine' },
  DMARC_FAIL: { score: 0.5, description: 'DMARC fails for the From domain (policy none or unknown)' },
  DMARC_PASS: { score: -0.2, description: 'DMARC passes: the From domain is aligned with SPF or DKIM' },
});

export const authCheck: SpamCheck = {
  name: 'auth',
  run(input) {
    const a = input.auth;
    if (!a) return [];
    const out: SpamSymbol[] = [];
    switch (a.spf?.toLowerCase()) {
      case 'fail':
        out.push(hit(AUTH_RULES, 'SPF_FAIL'));
        break;
      case 'softfail':
        out.push(hit(AUTH_RULES, 'SPF_SOFTFAIL'));
        break;
      case 'permerror':
        out.push(hit(AUTH_RULES, 'SPF_PERMERROR'));
        break;
      case 'pass':
        out.push(hit(AUTH_RULES, 'SPF_PASS'));
        break;
    }
    // RFC 7208 2.3: a HELO that its own domain disowns is a cheap, strong signal; scored, never rejected.
    switch (a.spfHelo?.toLowerCase()) {
      case 'fail':
        out.push(hit(AUTH_RULES, 'SPF_HELO_FAIL'));
        break;
      case 'softfail':
        out.push(hit(AUTH_RULES, 'SPF_HELO_SOFTFAIL'));
        break;
    }
    switch (a.dkim?.toLowerCase()) {
      case 'fail':
      case 'permerror':
        out.push(hit(AUTH_RULES, 'DKIM_INVALID'));
        break;
      case 'pass':
        out.push(hit(AUTH_RULES, 'DKIM_VALID'));
        break;
    }
    switch (a.dmarc?.toLowerCase()) {
      case 'fail': {
        const p = a.dmarcPolicy?.toLowerCase();
        out.push(hit(AUTH_RULES, p === 'reject' ? 'DMARC_FAIL_REJECT' : p === 'quarantine' ? 'DMARC_FAIL_QUARANTINE' : 'DMARC_FAIL'));
        break;
      }
      case 'pass':
        out.push(hit(AUTH_RULES, 'DMARC_PASS'));
        break;
    }
    return out;
  },
};
