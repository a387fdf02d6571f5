// From header sanity and display-name spoofing. The From address is what people read;
// phishing puts a trusted name or address (often one of our own domains) in the display
// name while the real address is elsewhere.
import type { Address } from 'postal-mime';
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { baseDomain } from '../urls.ts';
import { defineRules, hit } from './rules.ts';

export const FROM_RULES = defineRules({
  MISSING_FROM: { score: 1.5, description: 'Message has no From header' },
  MULTIPLE_FROM: { score: 2.0, description: 'Message has more than one From header' },
  FROM_NO_ADDRESS: { score: 1.0, description: 'From header holds no usable address' },
  FROM_INVALID_ADDRESS: { score: 1.0, description: 'From address is not a valid mailbox (user@domain.tld)' },
  FROM_NAME_HAS_OTHER_ADDR: {
    score: 1.0,
    description: 'From display name shows an e-mail address in another domain than the real sender',
  },
  FROM_NAME_SPOOFS_LOCAL: {
    score: 3.0,
    description: 'From display name shows one of our own domains, but the sender address is outside them',
  },
});

const ADDR_IN_TEXT_RE = /[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+)/gi;
const MAILBOX_RE = /^[^@\s]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,}$|^[^@\s]+@\[[0-9.:a-f]+\]$/i;

function firstMailbox(a: Address | undefined): { name: string; address: string } | null {
  if (!a) return null;
  if (a.address !== undefined) return { name: a.name ?? '', address: a.address };
  const g = a.group?.[0];
  return g ? { name: g.name ?? '', address: g.address } : null;
}

export const fromCheck: SpamCheck = {
  name: 'from',
  run(input, ctx) {
    const values = ctx.headers('from');
    if (values.length === 0) return [hit(FROM_RULES, 'MISSING_FROM')];
    const out: SpamSymbol[] = [];
    if (values.length > 1) out.push(hit(FROM_RULES, 'MULTIPLE_FROM'));
    const mb = firstMailbox(input.parsed.from);
    if (!mb || !mb.address) {
      out.push(hit(FROM_RULES, 'FROM_NO_ADDRESS'));
      return out;
    }
    const address = mb.address.toLowerCase();
    if (!MAILBOX_RE.test(address)) out.push(hit(FROM_RULES, 'FROM_INVALID_ADDRESS'));
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const name = mb.name.slice(0, 500).toLowerCase();
    if (!name) return out;

    let otherAddr = false;
    ADDR_IN_TEXT_RE.lastIndex = 0;
    for (let m = ADDR_IN_TEXT_RE.exec(name); m; m = ADDR_IN_TEXT_RE.exec(name)) {
      if (baseDomain(m[1]!) !== baseDomain(domain)) otherAddr = true;
    }
    if (ctx.localDomains.size && !ctx.isLocalDomain(domain)) {
      for (const local of ctx.localDomains) {
        const i = name.indexOf(local);
        if (i < 0) continue;
        // "example.com" must stand as a name, not be part of "notexample.com.evil".
        const before = i === 0 ? '' : name[i - 1]!;
        const after = name[i + local.length] ?? '';
        if (!/[a-z0-9-]/.test(before) && !/[a-z0-9-]/.test(after)) {
          out.push(hit(FROM_RULES, 'FROM_NAME_SPOOFS_LOCAL'));
          return out;
        }
      }
    }
    if (otherAddr) out.push(hit(FROM_RULES, 'FROM_NAME_HAS_OTHER_ADDR'));
    return out;
  },
};
