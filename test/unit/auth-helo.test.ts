// RFC 7208 2.3: the HELO identity is checked on its own. A HELO domain that publishes
// -all for this client, with a MAIL FROM that passes, shows in Authentication-Results
// and adds spam score, but is never a reject and never feeds DMARC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { txtResolver } from '../helpers/authvectors.ts';
import { heloIsDomain, verifyMessage } from '../../src/pipeline/verify/authenticate.ts';
import { enforceAuthPolicy } from '../../src/pipeline/verify/dmarc-enforce.ts';
import { authCheck } from '../../src/pipeline/filter/spam/checks/auth.ts';
import { spamAuthResults } from '../../src/pipeline/filter/spam-stage.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';

const MESSAGE = Buffer.from('From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\nDate: Tue, 03 Jun 2025 10:00:00 +0000\r\n\r\nhello\r\n');
const zone = {
  'example.org': 'v=spf1 ip4:203.0.113.0/24 -all',
  'mx.example.org': 'v=spf1 ip4:203.0.113.0/24 -all',
  // A name the client borrowed: its domain allows no host at all.
  'mail.victim.example': 'v=spf1 -all',
  '_dmarc.example.org': 'v=DMARC1; p=reject',
};
const run = (helo: string, mailFrom = 'alice@example.org') =>
  verifyMessage({ raw: MESSAGE, clientIp: '203.0.113.5', helo, mailFrom, authservId: 'gw.example.net', resolver: txtResolver(zone) });

test('a -all HELO domain with a passing MAIL FROM: spf=fail smtp.helo= in A-R, a score, no reject', async () => {
  const v = await run('mail.victim.example');
  assert.equal(v.spf.result, 'pass');
  assert.equal(v.spf.identity, 'mailfrom');
  assert.equal(v.spfHelo?.result, 'fail');
  assert.equal(v.spfHelo?.identity, 'helo');
  assert.match(v.authResults, /spf=pass [^;]*smtp\.mailfrom=alice@example\.org/);
  assert.match(v.authResults, /spf=fail [^;]*smtp\.helo=mail\.victim\.example/);
  assert.doesNotMatch(v.spfHelo!.info!, /smtp\.mailfrom/);
  assert.equal(v.dmarc.result, 'pass', 'DMARC uses MAIL FROM only');
  const d = enforceAuthPolicy(v, { spfHardFail: 'reject' });
  assert.equal(d.action, 'accept');

  const auth = spamAuthResults({ auth: { verdict: v, decision: d } } as unknown as MessageContext);
  assert.equal(auth?.spfHelo, 'fail');
  const symbols = await authCheck.run({ raw: MESSAGE, parsed: {} as never, auth: auth! }, {} as never);
  const helo = symbols.find(s => s.name === 'SPF_HELO_FAIL');
  assert.ok(helo && helo.score > 0, 'the HELO fail adds spam score');
});

test('a HELO that passes, an address literal, or the null sender: no extra HELO row', async () => {
  const ok = await run('mx.example.org');
  assert.equal(ok.spfHelo?.result, 'pass');
  assert.equal((await run('[203.0.113.5]')).spfHelo, undefined);
  const nullSender = await run('mail.victim.example', '');
  assert.equal(nullSender.spf.identity, 'helo', 'the null sender is already checked by its HELO (RFC 7208 2.4)');
  assert.equal(nullSender.spfHelo, undefined);
  assert.equal(nullSender.authResults.match(/spf=/g)?.length, 1);
  assert.deepEqual(['mx.example.org', 'localhost', '203.0.113.5', '[203.0.113.5]', 'a..b'].map(heloIsDomain), [true, false, false, false, false]);
});
