// DMARC organisational domains (RFC 7489 3.2) against the Public Suffix List's official
// test vectors (authvectors/publicsuffix/test_psl.txt, checkPublicSuffix lines).
// organizationalDomain() is the lookup mailauth's DMARC and alignment code uses
// (tldts and the PSL copy bundled with it, not the shared .dat file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { authvectorsDir, vectorsAbsent } from '../helpers/authvectors.ts';
import { organizationalDomain } from '../../src/pipeline/verify/authenticate.ts';

/** input → what we return instead, and why. */
const KNOWN_DEVIATIONS: Record<string, { got: string | null; why: string }> = {
  '.example.com': {
    got: 'example.com',
    why: 'a name with a leading dot is not a valid domain; tldts strips the empty label instead of refusing it. A From domain never looks like this after address parsing.',
  },
  '.example.example': { got: 'example.example', why: 'same as .example.com' },
};

const absent = vectorsAbsent('publicsuffix', 'test_psl.txt');

test('Public Suffix List test vectors (test_psl.txt)', { skip: absent ?? false }, t => {
  const lines = readFileSync(authvectorsDir('publicsuffix', 'test_psl.txt'), 'utf8')
    .split('\n')
    .filter(l => l.startsWith('checkPublicSuffix('));
  let passed = 0;
  const deviations: string[] = [];
  const unexpected: string[] = [];
  for (const line of lines) {
    const m = /^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);/.exec(line);
    assert.ok(m, line);
    if (m[1] === 'null') continue; // null input: not a lookup
    const input = m[1]!.slice(1, -1);
    const expected = m[2] === 'null' ? null : m[2]!.slice(1, -1);
    const got = organizationalDomain(input);
    const known = KNOWN_DEVIATIONS[input];
    if (got === expected && !known) passed++;
    else if (got !== expected && known && known.got === got) deviations.push(input);
    else unexpected.push(known ? `${input}: listed as a deviation, got ${got}` : `${line} → ${got}`);
  }
  t.diagnostic(`PSL: ${passed}/${passed + deviations.length + unexpected.length} pass, ${deviations.length} known deviations`);
  assert.deepEqual(unexpected, []);
  assert.equal(deviations.length, Object.keys(KNOWN_DEVIATIONS).length);
});
