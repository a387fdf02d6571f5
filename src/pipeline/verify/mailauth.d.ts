// Type declarations for the parts of mailauth (CommonJS, ships no types) that the
// verify and sign stages use. Only what we touch is declared; shapes follow
// node_modules/mailauth/lib (4.9.x). Deep paths are used because mailauth exposes
// its SPF/DKIM/DMARC/ARC steps only as separate modules.

declare module 'mailauth/lib/tools.js' {
  interface ParsedHeaderLine {
    key: string | null;
    casedKey: string | undefined;
    line: Buffer;
  }
  interface ParsedHeaders {
    parsed: ParsedHeaderLine[];
    original: Buffer;
  }
  interface SigningHeaderLines {
    keys: string;
    headers: ParsedHeaderLine[];
  }
  interface AlignmentEntry {
    domain: string;
    underSized?: number;
    [k: string]: unknown;
  }
  interface AuthStatus {
    result?: string;
    comment?: string | false;
    underSized?: number;
    policy?: Record<string, string | false | undefined>;
    smtp?: Record<string, string | false | undefined>;
    body?: Record<string, string | false | undefined>;
    header?: Record<string, string | false | undefined>;
  }
  const tools: {
    defaultDKIMFieldNames: string;
    defaultARCFieldNames: string;
    parseHeaders(buf: Buffer): ParsedHeaders;
    getSigningHeaderLines(parsed: ParsedHeaderLine[], fieldNames?: string | false, verify?: boolean): SigningHeaderLines;
    formatSignatureHeaderLine(type: 'DKIM' | 'ARC' | 'AS', values: Record<string, unknown>, folded?: boolean): string;
    formatAuthHeaderRow(method: string, status: AuthStatus): string;
    getAlignment(
      fromDomain: string,
      domainList: Array<string | AlignmentEntry>,
      strict?: boolean | { strict: boolean },
    ): AlignmentEntry | false;
    getPrivateKey(key: string | Buffer): import('node:crypto').KeyObject;
    formatRelaxedLine(line: Buffer | string, suffix?: string): Buffer;
    getPublicKey(
      type: 'DKIM' | 'ARC' | 'AS',
      name: string,
      minBitLength: number | undefined,
      resolver: (name: string, rrtype: string) => Promise<unknown>,
    ): Promise<{ publicKey: string | Buffer; rr: string; modulusLength?: number }>;
    TLDTS_OPTS: { allowIcannDomains: boolean; allowPrivateDomains: boolean };
  };
  export default tools;
  export type { ParsedHeaderLine, ParsedHeaders, SigningHeaderLines, AuthStatus };
}

declare module 'mailauth/lib/parse-dkim-headers.js' {
  interface ParsedTagHeader {
    parsed: Record<string, any>;
    original: string;
  }
  function parseDkimHeaders(line: Buffer | string): ParsedTagHeader;
  export default parseDkimHeaders;
}

declare module 'mailauth/lib/dkim/verify.js' {
  import type { ParsedHeaders, AuthStatus } from 'mailauth/lib/tools.js';
  interface DkimVerifyResultRow {
    id?: string;
    signingDomain?: string;
    selector?: string;
    signature?: string;
    algo?: string;
    format?: string;
    bodyHash?: string;
    bodyHashExpecting?: string;
    modulusLength?: number;
    rr?: string;
    canonBodyLengthLimited?: boolean;
    status: AuthStatus & { result: string; aligned?: string | false; underSized?: number };
    info: string;
  }
  interface ArcChainEntry {
    i: number;
    'arc-seal': { parsed: Record<string, any>; original: string };
    'arc-message-signature': { parsed: Record<string, any>; original: string };
    'arc-authentication-results': { parsed: Record<string, any>; original: string };
    messageSignature?: DkimVerifyResultRow;
  }
  interface ArcData {
    chain: ArcChainEntry[] | false;
    lastEntry?: ArcChainEntry;
    error?: Error & { code?: string };
  }
  interface DkimVerifyResult {
    headerFrom: string[];
    envelopeFrom: string | false;
    results: DkimVerifyResultRow[];
    /** non-enumerable */
    readonly headers?: ParsedHeaders;
    /** non-enumerable */
    readonly arc: ArcData;
  }
  const mod: {
    dkimVerify(
      input: Buffer | string,
      options?: {
        resolver?: (name: string, rrtype: string) => Promise<unknown>;
        sender?: string;
        minBitLength?: number;
        curTime?: Date;
      },
    ): Promise<DkimVerifyResult>;
  };
  export default mod;
  export type { DkimVerifyResult, DkimVerifyResultRow, ArcData, ArcChainEntry };
}

declare module 'mailauth/lib/spf/index.js' {
  import type { AuthStatus } from 'mailauth/lib/tools.js';
  interface SpfResult {
    domain: string;
    'client-ip': string;
    helo?: string;
    'envelope-from'?: string;
    rr?: string;
    status: AuthStatus & { result: string };
    header: string;
    info: string;
    lookups?: { limit: number; count: number; void: number; subqueries: Record<string, number> };
  }
  const mod: {
    spf(opts: {
      sender?: string;
      ip: string;
      helo?: string;
      mta?: string;
      maxResolveCount?: number;
      maxVoidCount?: number;
      resolver?: (name: string, rrtype: string) => Promise<unknown>;
    }): Promise<SpfResult>;
  };
  export default mod;
  export type { SpfResult };
}

declare module 'mailauth/lib/dmarc/verify.js' {
  import type { AuthStatus } from 'mailauth/lib/tools.js';
  interface DmarcResult {
    status: AuthStatus & { result: string };
    domain: string;
    policy?: string;
    p?: string;
    sp?: string;
    pct?: number;
    rr?: string;
    error?: string;
    alignment?: {
      spf: { result: string | undefined | false; strict: boolean };
      dkim: { result: string | undefined | false; strict: boolean; underSized?: number };
    };
    info: string;
  }
  function verifyDmarc(opts: {
    headerFrom: string | string[];
    spfDomains: string[];
    dkimDomains: Array<{ id?: string; domain: string; aligned?: string | false; underSized?: number }>;
    arcResult?: unknown;
    resolver?: (name: string, rrtype: string) => Promise<unknown>;
  }): Promise<DmarcResult | false>;
  export default verifyDmarc;
  export type { DmarcResult };
}

declare module 'mailauth/lib/arc/index.js' {
  import type { ArcData } from 'mailauth/lib/dkim/verify.js';
  import type { AuthStatus } from 'mailauth/lib/tools.js';
  interface ArcResult {
    status: AuthStatus & { result: string; shouldSeal?: boolean };
    i?: number | false;
    info?: string;
    authenticationResults?: Record<string, any>;
  }
  interface SealOptions {
    signingDomain: string;
    selector: string;
    privateKey: string | Buffer;
    algorithm?: string;
    authResults: string;
    cv: string;
    i?: number;
    signTime?: Date;
    headerList?: string;
  }
  const mod: {
    arc(data: ArcData, opts?: { resolver?: (name: string, rrtype: string) => Promise<unknown>; minBitLength?: number }): Promise<ArcResult>;
    sealMessage(input: Buffer | string, seal: SealOptions): Promise<Buffer>;
  };
  export default mod;
  export type { ArcResult, SealOptions };
}

declare module 'mailauth/lib/dkim/dkim-signer.js' {
  import type { Writable } from 'node:stream';
  import type { ParsedHeaders } from 'mailauth/lib/tools.js';
  interface SignatureData {
    signingDomain: string;
    selector: string;
    privateKey: string | Buffer;
    algorithm?: string;
    canonicalization?: string;
    maxBodyLength?: number | '';
    type?: string;
  }
  class DkimSigner extends Writable {
    constructor(options: {
      canonicalization?: string;
      algorithm?: string;
      signTime?: Date;
      headerList?: string;
      signatureData: SignatureData[];
    });
    headers: ParsedHeaders | false;
    signatureData: SignatureData[];
    bodyHashes: Map<string, { hash: string | null }>;
    signatureHeaders: string[];
    errors: Array<{ selector?: string; signingDomain?: string; err: Error }>;
    signTime?: Date;
    getCanonicalization(sig: SignatureData): { canonicalization: string; headerCanon: string; bodyCanon: string };
    getAlgorithm(sig: SignatureData): { algorithm: string; signAlgo: string | false; hashAlgo: string };
    finalize(): Promise<void>;
  }
  const mod: { DkimSigner: typeof DkimSigner };
  export default mod;
  export type { SignatureData };
  export { DkimSigner };
}

declare module 'mailauth/lib/dkim/header/index.js' {
  import type { SigningHeaderLines } from 'mailauth/lib/tools.js';
  const mod: {
    generateCanonicalizedHeader(
      type: 'DKIM' | 'ARC' | 'AS',
      signingHeaderLines: SigningHeaderLines,
      options: Record<string, unknown>,
    ): { canonicalizedHeader: Buffer; signatureHeaderLine: string; dkimHeaderOpts: Record<string, unknown> };
  };
  export default mod;
}

declare module 'mailauth/lib/dkim/body/index.js' {
  interface BodyHasher {
    update(chunk: Buffer): void;
    digest(encoding: 'base64'): string;
    setContentType?(ct: unknown): void;
  }
  const mod: { dkimBody(canonicalization: string, hashAlgo: string, maxBodyLength: number | false): BodyHasher };
  export default mod;
}

declare module 'mailauth/lib/dkim/sign.js' {
  const mod: {
    dkimSign(
      input: Buffer | string,
      options: {
        canonicalization?: string;
        algorithm?: string;
        signTime?: Date;
        headerList?: string;
        signatureData: Array<{
          signingDomain: string;
          selector: string;
          privateKey: string | Buffer;
          algorithm?: string;
          canonicalization?: string;
          maxBodyLength?: number;
        }>;
      },
    ): Promise<{ signatures: string; errors: Array<{ err: Error }> }>;
  };
  export default mod;
}
