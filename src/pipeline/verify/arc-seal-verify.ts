// ARC-Seal verification for chains that carry an Ed25519 seal.
//
// Corrects mailauth 4.9.5 (lib/arc/index.js, verifyAS): it calls
//   crypto.verify(null, canonicalizedHeader, publicKey, b)
// for a=ed25519-sha256, i.e. it checks the Ed25519 signature over the canonicalised
// header bytes themselves. RFC 8463 section 3 (which RFC 8617 section 4.1.3 inherits
// for ARC-Seal) signs the SHA-256 hash of those bytes, and so do dkimpy and mailauth's
// own sealer (signAS). Every valid Ed25519-sealed chain therefore came out arc=fail.
// mailauth's arc() calls its verifyAS through a closure, with no option to supply
// another, so the seal step for such chains is done here: the same algorithm as
// mailauth's verifyASChain (newest instance back to the oldest, each seal over all the
// sets up to and including its own, with its own b= emptied), hashing first for Ed25519.
// RSA-only chains still go through mailauth unchanged. The upstream fix is described
// in docs/upstream-mailauth.md; test/unit/auth-mailauth-upstream.test.ts fails once an
// upgraded mailauth verifies Ed25519 seals itself, and then this file can go.
// First: mailauth's header parser is replaced before mailauth loads (see that file).
import './mailauth-header-parser.ts';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import tools from 'mailauth/lib/tools.js';
import type { ArcChainEntry, ArcData } from 'mailauth/lib/dkim/verify.js';

const { formatRelaxedLine, getPublicKey } = tools;

type Resolver = (name: string, rrtype: string) => Promise<unknown>;

export interface ArcSealOutcome {
  result: 'pass' | 'fail';
  comment?: string;
}

/** Does any ARC-Seal in the chain use Ed25519 (the case mailauth gets wrong)? */
export function chainHasEd25519Seal(data: ArcData): boolean {
  return !!data.chain && data.chain.some(set => String(set['arc-seal']?.parsed?.a?.value ?? '').toLowerCase().startsWith('ed25519-'));
}

/** Verifies the seal of the newest set in `sets` over all of them (RFC 8617 5.2 step 6). */
async function verifySeal(sets: ArcChainEntry[], resolver: Resolver, minBitLength: number): Promise<ArcSealOutcome | null> {
  const chunks: Buffer[] = [];
  const newest = sets[sets.length - 1]!;
  for (const set of sets) {
    chunks.push(formatRelaxedLine(set['arc-authentication-results'].original, '\r\n'));
    chunks.push(formatRelaxedLine(set['arc-message-signature'].original, '\r\n'));
    if (set !== newest) chunks.push(formatRelaxedLine(set['arc-seal'].original, '\r\n'));
  }
  const seal = newest['arc-seal'].parsed;
  const selector = seal?.s?.value;
  const domain = seal?.d?.value;
  if (!selector || !domain || !seal?.b?.value) return { result: 'fail', comment: `i=${newest.i} invalid ARC-Seal header` };
  chunks.push(
    Buffer.from(formatRelaxedLine(newest['arc-seal'].original).toString('binary').replace(/([;:\s]+b=)[^;]+/, '$1'), 'binary'),
  );
  const canonicalized = Buffer.concat(chunks);
  const algorithm = String(seal.a?.value ?? '').toLowerCase();
  const keyName = `${selector}._domainkey.${domain}`;
  let publicKey: string | Buffer;
  try {
    publicKey = (await getPublicKey('AS', keyName, minBitLength, resolver)).publicKey;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no key' : code === 'ESHORTKEY' ? 'weak key' : 'unusable key';
    return { result: 'fail', comment: `i=${newest.i} ${why} for ${keyName}` };
  }
  const signature = Buffer.from(String(seal.b.value), 'base64');
  let ok = false;
  try {
    ok = algorithm.startsWith('ed25519-')
      ? cryptoVerify(null, createHash('sha256').update(canonicalized).digest(), publicKey, signature)
      : cryptoVerify(algorithm, canonicalized, publicKey, signature);
  } catch {
    ok = false; // key type and a= disagree, or a malformed signature
  }
  return ok ? null : { result: 'fail', comment: `i=${newest.i} seal signature validation failed` };
}

/**
 * The seal step of ARC validation plus the newest AMS (which mailauth's DKIM pass
 * verified correctly, Ed25519 included). Call only for a chain mailauth could build
 * (no data.error); structural checks stay mailauth's.
 */
export async function verifyArcSeals(data: ArcData, opts: { resolver: Resolver; minBitLength: number }): Promise<ArcSealOutcome> {
  const chain = data.chain || [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const cv = String(chain[i]!['arc-seal']?.parsed?.cv?.value ?? '').toLowerCase();
    // As mailauth: a set whose cv is neither none nor pass is checked on its own, and ends the walk.
    const failed = await verifySeal(cv === 'none' || cv === 'pass' ? chain.slice(0, i + 1) : [chain[i]!], opts.resolver, opts.minBitLength);
    if (failed) return failed;
    if (cv !== 'none' && cv !== 'pass') break;
  }
  const last = data.lastEntry;
  if (last?.messageSignature?.status?.result !== 'pass') return { result: 'fail', comment: `i=${last?.i ?? chain.length} no valid signature` };
  return { result: 'pass' };
}
