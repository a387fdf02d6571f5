// mailauth's header parser (lib/tools.js parseHeaders, 4.9.5), made linear. It joins
// folded lines from the last one backwards, concatenating arrays and splicing the row
// list at each continuation line: quadratic in the lines, so a Subject folded into
// 40,000 lines (issue 12) kept DKIM verification, signing and ARC sealing busy for
// seconds each while every other session of the worker waited. This one joins them in
// one forward pass and returns the same rows, byte for byte.
//
// mailauth's DKIM message parser takes parseHeaders out of tools.js when it is first
// loaded (`const { parseHeaders } = require(...)`), so the replacement must be in place
// before that: every module of ours that loads mailauth imports this one first. Loaded
// after it (only a test that imports mailauth itself first can do that), the original
// stays in use there: a process warning says so, and mailauthHeaderParserLinear is false.
// test/unit/mime-limits.test.ts checks the rows against the original's and the time.
import { createRequire } from 'node:module';
import type { ParsedHeaders } from 'mailauth/lib/tools.js';

const require = createRequire(import.meta.url);
const tools = require('mailauth/lib/tools.js') as { parseHeaders: (buf: Buffer) => ParsedHeaders };

/** mailauth's own parseHeaders (kept for the test that compares the two). */
export const originalParseHeaders = tools.parseHeaders;

const CONTINUATION = /^\s/;

export function parseHeadersLinear(buf: Buffer): ParsedHeaders {
  const lines = buf.toString('binary').replace(/[\r\n]+$/, '').split(/\r?\n/);
  // As the original: a line starting with white space belongs to the field above it
  // (the first line has none above it and stays a row of its own).
  const groups: string[][] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (i > 0 && CONTINUATION.test(line)) groups[groups.length - 1]!.push(line);
    else groups.push([line]);
  }
  const parsed = groups.map((group) => {
    const row = group.join('\r\n');
    const m = row.match(/^[^:]+/);
    const casedKey = m ? m[0].trim() : undefined;
    return { key: casedKey === undefined ? null : casedKey.toLowerCase(), casedKey, line: Buffer.from(row, 'binary') };
  });
  return { parsed, original: buf } as unknown as ParsedHeaders;
}

const messageParser = require.resolve('mailauth/lib/dkim/message-parser.js');
/** Whether mailauth's DKIM message parser uses the linear parser (false: it was loaded first). */
export const mailauthHeaderParserLinear = !require.cache[messageParser];
if (!mailauthHeaderParserLinear) {
  process.emitWarning('mailauth/lib/dkim/message-parser.js was loaded before src/pipeline/verify/mailauth-header-parser.ts: its header parsing stays quadratic');
}
tools.parseHeaders = parseHeadersLinear;
