// ARC chain validation conformance: ValiMail's arc_test_suite validation file
// (10 scenarios, 171 tests), each message run through verifyMessage() with the
// scenario's txt-records as the only DNS. The chain status we report (verdict.arc.result)
// must equal the expected cv.
//
// Three vectors (cv_fail_i1_as_cv_fail, cv_fail_i2_as2_fail, cv_fail_i2_as1_fail) carry
// an empty cv in the YAML. Each has an ARC-Seal with cv=fail, which RFC 8617 5.2 (steps 2
// and 3: the newest seal says fail, or a set other than i=1 lacks cv=pass) makes a failed
// chain, so we expect fail for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authvectorsDir, findPython, loadYamlDocs, txtResolver, vectorsAbsent } from '../helpers/authvectors.ts';
import { verifyMessage } from '../../src/pipeline/verify/authenticate.ts';

interface Scenario {
  description: string;
  tests: Record<string, { message?: string; cv?: string; description?: string }>;
  'txt-records'?: Record<string, string>;
}

/** name → what we return instead, and why. Empty: every vector matches. */
const KNOWN_DEVIATIONS: Record<string, { got: string; why: string }> = {};

const absent =
  vectorsAbsent('arc_test_suite', 'arc-draft-validation-tests.yml') ??
  (findPython(['yaml']) ? null : 'PyYAML (python3-yaml) is not installed: cannot read the ARC suite YAML');

test('ARC validation suite (arc_test_suite arc-draft-validation-tests.yml)', { skip: absent ?? false }, async t => {
  const scenarios = loadYamlDocs<Scenario>(authvectorsDir('arc_test_suite', 'arc-draft-validation-tests.yml'));
  let total = 0;
  let passed = 0;
  const deviations: string[] = [];
  const unexpected: string[] = [];
  const byExpected: Record<string, number> = {};
  for (const sc of scenarios) {
    const resolver = txtResolver(sc['txt-records'] ?? {});
    for (const [name, v] of Object.entries(sc.tests)) {
      total++;
      const expected = (v.cv ? String(v.cv) : 'fail').toLowerCase();
      byExpected[expected] = (byExpected[expected] ?? 0) + 1;
      // The YAML holds LF text; on the wire a message has CRLF line ends.
      const raw = Buffer.from(String(v.message ?? '').replace(/\r?\n/g, '\r\n'), 'utf8');
      const verdict = await verifyMessage({
        raw,
        clientIp: '192.0.2.1',
        helo: 'client.example',
        mailFrom: '',
        authservId: 'receiver.test',
        resolver,
      });
      const got = verdict.arc.result;
      const known = KNOWN_DEVIATIONS[name];
      if (got === expected && !known) passed++;
      else if (got !== expected && known?.got === got) deviations.push(name);
      else {
        unexpected.push(
          known
            ? `${name}: listed as a known deviation (${known.got}) but got ${got}`
            : `${name} [${sc.description}] (${v.description ?? ''}): expected ${expected}, got ${got} (${verdict.arc.comment ?? ''})`,
        );
      }
    }
  }
  t.diagnostic(
    `ARC validation: ${passed}/${total} pass (expected pass ${byExpected.pass ?? 0}, fail ${byExpected.fail ?? 0}, none ${byExpected.none ?? 0}), ${deviations.length} known deviations`,
  );
  assert.deepEqual(unexpected, []);
  assert.equal(total, 171);
  assert.equal(deviations.length, Object.keys(KNOWN_DEVIATIONS).length);
});
