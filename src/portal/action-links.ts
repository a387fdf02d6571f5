// One-click action links (digests, notices, invitations). A link carries a token signed by
// the gateway with HMAC-SHA256 that binds one message (its quarantine id), one recipient,
// one action and an expiry, plus a random id so each link works once (link_uses). The key
// is 32 random bytes made once per install and kept sealed by the master key, so a copy
// of the database alone cannot mint links. The payload is only base64url: it names this
// message and this recipient, which the link's holder knows already, and nothing else.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { ensureGatewaySecret } from '../db/repos/gateway-secrets.ts';
import type { MasterKey } from '../keys/master-key.ts';

export const LINK_ACTIONS = ['release', 'delete', 'allow-sender', 'block-sender', 'sign-in'] as const;
export type LinkAction = (typeof LINK_ACTIONS)[number];

export interface LinkClaims {
  /** Random id: the link works once. */
  id: string;
  /** Quarantine id; '' for sign-in links. */
  quarantineId: string;
  recipient: string;
  action: LinkAction;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type LinkProblem = 'malformed' | 'forged' | 'expired';

const VERSION = 'h1';
const SECRET_NAME = 'link-hmac-key';
const aad = `gateway-secret:${SECRET_NAME}`;

export class LinkSigner {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  /** The install's signer: its key is made on first use and sealed by the master key. */
  static async open(db: Db, masterKey: MasterKey): Promise<LinkSigner> {
    const sealed = await ensureGatewaySecret(db, SECRET_NAME, () => masterKey.encrypt(randomBytes(32), aad).toString('base64'));
    return new LinkSigner(masterKey.decrypt(Buffer.from(sealed, 'base64'), aad));
  }

  #mac(purpose: string, data: string): Buffer {
    return createHmac('sha256', this.#key).update(`${purpose}\n${data}`).digest();
  }

  sign(c: Omit<LinkClaims, 'id'> & { id?: string }): string {
    const claims = { i: c.id ?? randomBytes(12).toString('base64url'), q: c.quarantineId, r: c.recipient.toLowerCase(), a: c.action, e: Math.floor(c.expiresAt / 1000) };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${VERSION}.${payload}.${this.#mac('link', `${VERSION}.${payload}`).toString('base64url')}`;
  }

  /** The claims of a genuine, unexpired token, or what is wrong with it. */
  verify(token: string, now = Date.now()): { ok: true; claims: LinkClaims } | { ok: false; problem: LinkProblem; claims?: LinkClaims } {
    const m = /^h1\.([A-Za-z0-9_-]{10,2000})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return { ok: false, problem: 'malformed' };
    const want = this.#mac('link', `${VERSION}.${m[1]}`);
    const got = Buffer.from(m[2]!, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, problem: 'forged' };
    let raw: { i?: unknown; q?: unknown; r?: unknown; a?: unknown; e?: unknown };
    try {
      raw = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as typeof raw;
    } catch {
      return { ok: false, problem: 'malformed' };
    }
    if (typeof raw.i !== 'string' || typeof raw.q !== 'string' || typeof raw.r !== 'string' || typeof raw.e !== 'number' || !LINK_ACTIONS.includes(raw.a as LinkAction)) return { ok: false, problem: 'malformed' };
    const claims: LinkClaims = { id: raw.i, quarantineId: raw.q, recipient: raw.r, action: raw.a as LinkAction, expiresAt: raw.e * 1000 };
    if (claims.expiresAt <= now) return { ok: false, problem: 'expired', claims };
    return { ok: true, claims };
  }

  /** The confirmation form's anti-forgery value: bound to this one link, so no other page can post it. */
  formToken(claims: LinkClaims): string {
    return this.#mac('confirm', claims.id).toString('base64url');
  }

  checkFormToken(claims: LinkClaims, sent: unknown): boolean {
    if (typeof sent !== 'string') return false;
    const want = Buffer.from(this.formToken(claims));
    const got = Buffer.from(sent);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** A link's expiry: `hours` from now, but never after the message leaves the quarantine. */
export function linkExpiry(now: number, hours: number, heldAt: number | null, retentionDays: number): number {
  const wanted = now + hours * 3_600_000;
  return heldAt === null ? wanted : Math.min(wanted, heldAt + retentionDays * 86_400_000);
}
