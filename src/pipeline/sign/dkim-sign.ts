// DKIM signing of the final bytes (the last stage that may touch the message before
// ARC sealing). mailauth does the work: message parsing, body hashing,
// canonicalisation, signature header formatting. We only add what its signer cannot
// express: an h= list that names From once more than there are From fields
// ("oversigning", RFC 6376 8.15), so that a From added later breaks the signature.
// First: mailauth's header parser is replaced before mailauth loads (see that file).
import '../verify/mailauth-header-parser.ts';
import { sign as cryptoSign, createHash } from 'node:crypto';
import signerMod from 'mailauth/lib/dkim/dkim-signer.js';
import headerMod from 'mailauth/lib/dkim/header/index.js';
import tools from 'mailauth/lib/tools.js';
import type { DkimAlgorithm, DkimKey } from './dkim-keys.ts';

const { DkimSigner } = signerMod;
const { generateCanonicalizedHeader } = headerMod;
const { getSigningHeaderLines, formatSignatureHeaderLine, getPrivateKey } = tools;

export type { DkimKey, DkimAlgorithm };

/**
 * Header fields we sign when present (RFC 6376 5.4.1's list, trimmed to what a
 * recipient sees or what changes meaning), bottom-up per instance as mailauth does.
 */
export const DEFAULT_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Content-Disposition',
  'In-Reply-To',
  'References',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'Autocrypt',
] as const;

/** Names listed once more than they occur: nobody can add one without breaking the signature. */
export const DEFAULT_OVERSIGNED_HEADERS = ['From'] as const;

export interface DkimSignOptions {
  /** Signature time (t=); default now. */
  signTime?: Date;
  /** Default relaxed/relaxed. */
  canonicalization?: 'relaxed/relaxed' | 'relaxed/simple' | 'simple/relaxed' | 'simple/simple';
  headers?: readonly string[];
  oversign?: readonly string[];
  /** x= seconds after t=; none by default. */
  expireAfterSeconds?: number;
}

class OversigningSigner extends DkimSigner {
  constructor(
    opts: ConstructorParameters<typeof DkimSigner>[0],
    private readonly oversign: readonly string[],
    private readonly expiresAt: Date | undefined,
  ) {
    super(opts);
  }

  // Same steps as mailauth's DkimSigner.finalize(), with the h= list extended.
  override async finalize(): Promise<void> {
    if (!this.headers) return;
    for (const sig of this.signatureData) {
      try {
        const fieldNames = (this as unknown as { headerList: string }).headerList;
        const lines = getSigningHeaderLines(this.headers.parsed, fieldNames);
        const present = new Set(lines.headers.map(h => h.key));
        const extra = this.oversign.filter(n => present.has(n.toLowerCase()));
        const signingLines = { keys: [lines.keys, ...extra].filter(Boolean).join(': '), headers: lines.headers };

        const { canonicalization, bodyCanon } = this.getCanonicalization(sig);
        let { signAlgo, hashAlgo } = this.getAlgorithm(sig);
        const key = getPrivateKey(sig.privateKey);
        const keyType = key.asymmetricKeyType;
        if (keyType !== 'rsa' && keyType !== 'ed25519') throw new Error(`unsupported key type ${keyType}`);
        if (signAlgo && signAlgo !== keyType) throw new Error(`key is ${keyType} but algorithm is ${signAlgo}-${hashAlgo}`);
        const bits = key.asymmetricKeyDetails?.modulusLength;
        if (keyType === 'rsa' && (!bits || bits < 1024)) throw new Error(`RSA key is ${bits} bits; RFC 8301 requires at least 1024`);
        signAlgo = keyType;
        const algorithm = `${signAlgo}-${hashAlgo}`;
        const hashKey = `${bodyCanon}:${hashAlgo}:${sig.maxBodyLength ?? ''}`;
        const bodyHash = this.bodyHashes.get(hashKey)?.hash;
        if (!bodyHash) throw new Error('body hash was not computed');

        const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader('DKIM', signingLines, {
          ...sig,
          algorithm,
          canonicalization,
          signTime: this.signTime,
          expires: this.expiresAt,
          bodyHash,
        });
        const data = signAlgo === 'rsa' ? canonicalizedHeader : createHash('sha256').update(canonicalizedHeader).digest();
        dkimHeaderOpts.b = cryptoSign(signAlgo === 'rsa' ? algorithm : null, data, key).toString('base64');
        this.signatureHeaders.push(formatSignatureHeaderLine('DKIM', dkimHeaderOpts, true));
      } catch (err) {
        this.errors.push({ selector: sig.selector, signingDomain: sig.signingDomain, err: err as Error });
      }
    }
  }
}

function headerSectionHasFrom(message: Buffer): boolean {
  const text = message.toString('latin1', 0, Math.min(message.length, 1 << 20));
  const m = /\r?\n\r?\n/.exec(text);
  return /(^|\n)from[ \t]*:/i.test(m ? text.slice(0, m.index + 1) : text);
}

/** The message's own line ending, so prepended headers match it. */
export function lineEndingOf(message: Buffer): '\r\n' | '\n' {
  const nl = message.indexOf('\n');
  return nl > 0 && message[nl - 1] === 0x0d ? '\r\n' : nl < 0 ? '\r\n' : '\n';
}

/**
 * Signs the message with every key (e.g. RSA and Ed25519 for dual signing, RFC 8463)
 * and returns it with the DKIM-Signature fields prepended, in key order. Throws if
 * any key cannot sign: a configured signature that silently goes missing is a bug.
 */
export async function dkimSign(message: Buffer, keys: readonly DkimKey[], opts: DkimSignOptions = {}): Promise<Buffer> {
  if (!keys.length) return message;
  if (!headerSectionHasFrom(message)) {
    throw new Error('cannot DKIM-sign a message without a From header field (RFC 6376 5.4)');
  }
  const signTime = opts.signTime ?? new Date();
  const signer = new OversigningSigner(
    {
      canonicalization: opts.canonicalization ?? 'relaxed/relaxed',
      signTime,
      headerList: (opts.headers ?? DEFAULT_SIGNED_HEADERS).join(':'),
      signatureData: keys.map(k => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: k.privateKeyPem,
        algorithm: k.algorithm,
        canonicalization: opts.canonicalization ?? 'relaxed/relaxed',
      })),
    },
    opts.oversign ?? DEFAULT_OVERSIGNED_HEADERS,
    opts.expireAfterSeconds ? new Date(signTime.getTime() + opts.expireAfterSeconds * 1000) : undefined,
  );
  await new Promise<void>((resolve, reject) => {
    signer.once('error', reject);
    signer.once('finish', () => resolve());
    signer.end(message);
  });
  if (signer.errors.length) {
    const what = signer.errors.map(e => `${e.selector}._domainkey.${e.signingDomain}: ${e.err.message}`).join('; ');
    throw new Error(`DKIM signing failed: ${what}`);
  }
  if (signer.signatureHeaders.length !== keys.length) {
    throw new Error(`DKIM signing produced ${signer.signatureHeaders.length} of ${keys.length} signatures`);
  }
  const eol = lineEndingOf(message);
  const block = signer.signatureHeaders.map(h => h.replace(/\r?\n/g, eol) + eol).join('');
  return Buffer.concat([Buffer.from(block, 'latin1'), message]);
}
