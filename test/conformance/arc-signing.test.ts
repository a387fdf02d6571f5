// ARC signing conformance: ValiMail's arc_test_suite signing file (2 scenarios, 17
// tests). Each input message is validated on arrival with verifyMessage(), its
// Authentication-Results for the test's srv-id are consolidated (collectAuthResults),
// and arcSeal() adds a set with the fixed t=, key and signed-header list.
//
// What is compared, and why not the b= bytes: the suite's README fixes a "standardised
// header format" (tags in alphabetical order, no folding) for the expected
// ARC-Message-Signature and ARC-Seal, and their b= values sign exactly that text.
// mailauth writes tags in its own order (i, a, c, d, h, q, s, t, bh, b) and lists h= in
// bottom-up header order, which RFC 8617/6376 allow but which gives different b= values.
// So for every vector we check, instead:
//  1. whether a set was added at all (no_additional_sig: a chain ending in cv=fail gets none);
//  2. the ARC-Authentication-Results content equals the expected one (whitespace-normalised);
//  3. every tag of our AMS and AS equals the expected value (a, bh, c, d, i, s, t, cv),
//     and h= names the same header fields;
//  4. the suite's own expected set, put on the message, validates with our validator
//     (pass; for cv=fail sets the seal signature is checked directly), which shows that our
//     body hash and header canonicalisation agree with the suite's signer byte for byte;
//  5. our set validates too, by the same checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { authvectorsDir, findPython, loadYamlDocs, txtResolver, vectorsAbsent } from '../helpers/authvectors.ts';
import { verifyMessage } from '../../src/pipeline/verify/authenticate.ts';
import { arcSeal, collectAuthResults } from '../../src/pipeline/sign/arc-seal.ts';

interface SignVector {
  description?: string;
  message: string;
  t: number;
  'sig-headers': string;
  'srv-id': string;
  AS: string;
  AMS: string;
  AAR: string;
}
interface Scenario {
  description: string;
  tests: Record<string, SignVector>;
  domain: string;
  sel: string;
  privatekey: string;
  'txt-records': Record<string, string>;
}

/** name → explanation, for vectors we accept failing. Empty: none. */
const KNOWN_DEVIATIONS: Record<string, string> = {};

/** The README's standard form: line breaks after ";" become one space, others vanish. */
function joinExpected(v: string): string {
  return v
    .trim()
    .split('\n')
    .map(l => l.trim())
    .reduce((acc, l) => (acc ? acc + (acc.endsWith(';') ? ' ' : '') + l : l), '');
}

function tags(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of value.replace(/\r?\n[ \t]+/g, ' ').split(';')) {
    const eq = spec.indexOf('=');
    if (eq < 0) continue;
    out[spec.slice(0, eq).trim().toLowerCase()] = spec.slice(eq + 1).replace(/\s+/g, '');
  }
  return out;
}

function headerValue(msg: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(msg);
  assert.ok(m, `${name} present`);
  return m[1]!;
}

const normWs = (s: string) => s.replace(/\s+/g, ' ').trim();

/** RFC 6376 3.4.2 relaxed header canonicalisation, written here independently of mailauth. */
function relaxed(name: string, value: string): string {
  return `${name.toLowerCase()}:${value.replace(/\r?\n(?=[ \t])/g, '').replace(/[ \t]+/g, ' ').trim()}`;
}

/** Checks only the newest ARC-Seal signature over its own set (what a cv=fail seal signs). */
function sealSignatureOk(aar: string, ams: string, as: string, txt: string): boolean {
  const p = tags(txt).p!;
  const key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
  const asNoB = relaxed('ARC-Seal', as).replace(/((?:^arc-seal:|;)\s*b=)[^;]*/, '$1');
  const data = `${relaxed('ARC-Authentication-Results', aar)}\r\n${relaxed('ARC-Message-Signature', ams)}\r\n${asNoB}`;
  return cryptoVerify('sha256', Buffer.from(data, 'latin1'), key, Buffer.from(tags(as).b!, 'base64'));
}

const absent =
  vectorsAbsent('arc_test_suite', 'arc-draft-sign-tests.yml') ??
  (findPython(['yaml']) ? null : 'PyYAML (python3-yaml) is not installed: cannot read the ARC suite YAML');

test('ARC signing suite (arc_test_suite arc-draft-sign-tests.yml)', { skip: absent ?? false }, async t => {
  const scenarios = loadYamlDocs<Scenario>(authvectorsDir('arc_test_suite', 'arc-draft-sign-tests.yml'));
  let total = 0;
  let passed = 0;
  const failures: string[] = [];
  for (const sc of scenarios) {
    const resolver = txtResolver(sc['txt-records']);
    const keyTxt = Object.values(sc['txt-records'])[0]!;
    for (const [name, v] of Object.entries(sc.tests)) {
      total++;
      try {
        const raw = Buffer.from(v.message.replace(/\r?\n/g, '\r\n'), 'utf8');
        const arrival = await verifyMessage({ raw, clientIp: '192.0.2.1', helo: 'client.example', mailFrom: '', authservId: v['srv-id'], resolver });
        const authResults = collectAuthResults(raw, v['srv-id']);
        assert.ok(authResults, 'the message has Authentication-Results for srv-id');
        const res = await arcSeal(raw, {
          key: { domain: sc.domain, selector: sc.sel, privateKeyPem: sc.privatekey },
          arrival: arrival.arc,
          authResults,
          signTime: new Date(v.t * 1000),
          headers: v['sig-headers'].split(':'),
        });
        if (!v.AS.trim()) {
          assert.equal(res.sealed, false, 'no set may be added');
          passed++;
          continue;
        }
        assert.equal(res.sealed, true, `sealed (${res.reason ?? ''})`);
        const out = res.message.toString('latin1');
        const ourAar = headerValue(out, 'ARC-Authentication-Results');
        const ourAms = headerValue(out, 'ARC-Message-Signature');
        const ourAs = headerValue(out, 'ARC-Seal');

        // 2. AAR content
        assert.equal(normWs(ourAar), normWs(v.AAR), 'ARC-Authentication-Results');
        // 3. tags
        const expAs = tags(joinExpected(v.AS));
        const gotAs = tags(ourAs);
        for (const k of ['a', 'cv', 'd', 'i', 's', 't']) assert.equal(gotAs[k]?.toLowerCase(), expAs[k]?.toLowerCase(), `AS ${k}=`);
        const expAms = tags(joinExpected(v.AMS));
        const gotAms = tags(ourAms);
        for (const k of ['a', 'bh', 'c', 'd', 'i', 's', 't']) assert.equal(gotAms[k], expAms[k], `AMS ${k}=`);
        const hset = (h: string) => h.toLowerCase().split(':').map(x => x.trim()).filter(Boolean).sort();
        assert.deepEqual(hset(gotAms.h!), hset(expAms.h!), 'AMS h= names the same fields');

        // 4 + 5. validation of the expected set and of ours
        const expectedSet = Buffer.concat([
          Buffer.from(
            `ARC-Seal: ${joinExpected(v.AS)}\r\nARC-Message-Signature: ${joinExpected(v.AMS)}\r\nARC-Authentication-Results: ${joinExpected(v.AAR)}\r\n`,
            'latin1',
          ),
          raw,
        ]);
        for (const [label, msg, aar, ams, as] of [
          ['expected set', expectedSet, joinExpected(v.AAR), joinExpected(v.AMS), joinExpected(v.AS)],
          ['our set', res.message, ourAar, ourAms, ourAs],
        ] as const) {
          if (expAs.cv === 'fail') {
            assert.ok(sealSignatureOk(aar, ams, as, keyTxt), `${label}: ARC-Seal signature verifies`);
          } else {
            const check = await verifyMessage({ raw: msg, clientIp: '192.0.2.1', helo: 'client.example', mailFrom: '', authservId: 'next-hop.test', resolver });
            assert.equal(check.arc.result, 'pass', `${label} validates (${check.arc.comment ?? ''})`);
          }
        }
        if (KNOWN_DEVIATIONS[name]) failures.push(`${name}: listed as a known deviation but passes`);
        else passed++;
      } catch (err) {
        if (!KNOWN_DEVIATIONS[name]) failures.push(`${name} [${sc.description}]: ${(err as Error).message}`);
      }
    }
  }
  t.diagnostic(`ARC signing: ${passed}/${total} pass, ${Object.keys(KNOWN_DEVIATIONS).length} known deviations`);
  assert.deepEqual(failures, []);
  assert.equal(total, 17);
});
