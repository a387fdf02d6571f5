// Type declarations for mailauth's MTA-STS helpers (CommonJS, no types). We use its TXT
// record lookup, policy parser and MX matcher; the HTTPS fetch is our own (see mta-sts.ts).
declare module 'mailauth/lib/mta-sts.js' {
  interface ParsedStsPolicy {
    version: string;
    mode: 'enforce' | 'testing' | 'none';
    maxAge: number;
    mx?: string[];
  }
  interface MxCheck {
    valid: boolean;
    mode: string;
    match?: string;
    testing: boolean;
  }
  const mtaSts: {
    /** The policy id from _mta-sts.<domain> TXT, or false when none is published. */
    resolvePolicy(domain: string, opts: { resolver: (name: string, type: string) => Promise<unknown> }): Promise<string | false>;
    /** Throws (err.code invalid_sts_*) on a malformed policy. */
    parsePolicy(file: Buffer | string): ParsedStsPolicy;
    validateMx(mx: string, policy: { mode: string; mx?: string[] }): MxCheck;
  };
  export default mtaSts;
}
