// stripOurAuthResults(): forged Authentication-Results claiming our authserv-id go;
// every other byte stays (RFC 8601 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authservIdOf, stripOurAuthResults } from '../../src/pipeline/verify/authenticate.ts';
import { collectAuthResults } from '../../src/pipeline/sign/arc-seal.ts';

const ID = 'gw.example.net';

test('authservIdOf reads the id after comments, quoted or with a version', () => {
  assert.equal(authservIdOf(' gw.example.net; spf=pass'), 'gw.example.net');
  assert.equal(authservIdOf(' (forged (nested)) GW.Example.NET 1; none'), 'GW.Example.NET');
  assert.equal(authservIdOf(' "gw.example.net"; dkim=pass'), 'gw.example.net');
  assert.equal(authservIdOf('\r\n\tgw.example.net;\r\n\tdkim=pass'), 'gw.example.net');
  assert.equal(authservIdOf('   '), null);
});

test('removes ours (any case, folded, with comments), keeps others and all other bytes', () => {
  const head = [
    'Received: from a by b; Tue, 3 Jun 2025 10:00:00 +0000',
    'Authentication-Results: GW.EXAMPLE.NET; dkim=pass header.d=bank.example',
    'Authentication-Results: mx.other.example;\r\n\tspf=pass smtp.mailfrom=x@y',
    'authentication-results: (sneaky)\r\n gw.example.net;\r\n\tdmarc=pass',
    'Authentication-Results : "gw.example.net" 1; arc=pass',
    'ARC-Authentication-Results: i=1; gw.example.net; dkim=pass',
    'Authentication-Results: gw.example.net.evil; spf=pass',
    'From: a@example.org',
    'Subject: test',
  ].join('\r\n');
  const body = 'Authentication-Results: gw.example.net; dkim=pass\r\nbody line\r\n';
  const raw = Buffer.from(`${head}\r\n\r\n${body}`, 'latin1');
  const out = stripOurAuthResults(raw, ID).toString('latin1');
  const expected = [
    'Received: from a by b; Tue, 3 Jun 2025 10:00:00 +0000',
    'Authentication-Results: mx.other.example;\r\n\tspf=pass smtp.mailfrom=x@y',
    'ARC-Authentication-Results: i=1; gw.example.net; dkim=pass',
    'Authentication-Results: gw.example.net.evil; spf=pass',
    'From: a@example.org',
    'Subject: test',
  ].join('\r\n');
  assert.equal(out, `${expected}\r\n\r\n${body}`);
});

test('LF-only messages, the last header, and nothing to strip', () => {
  const lf = Buffer.from('From: a@b\nAuthentication-Results: gw.example.net;\n  spf=fail\n\nbody\n');
  assert.equal(stripOurAuthResults(lf, ID).toString(), 'From: a@b\n\nbody\n');
  const clean = Buffer.from('From: a@b\r\n\r\nAuthentication-Results: gw.example.net; x\r\n');
  assert.equal(stripOurAuthResults(clean, ID), clean, 'unchanged input is returned as is');
  const noBody = Buffer.from('From: a@b\r\nAuthentication-Results: gw.example.net; none');
  assert.equal(stripOurAuthResults(noBody, ID).toString(), 'From: a@b\r\n');
  const binary = Buffer.concat([Buffer.from('Authentication-Results: gw.example.net; x\r\nSubject: \xe9t\xe9\r\n\r\n', 'latin1'), Buffer.from([0, 255, 128, 10])]);
  assert.deepEqual(stripOurAuthResults(binary, ID), Buffer.concat([Buffer.from('Subject: \xe9t\xe9\r\n\r\n', 'latin1'), Buffer.from([0, 255, 128, 10])]));
});

test('collectAuthResults consolidates our A-R fields in order', () => {
  const raw = Buffer.from(
    'Authentication-Results: lists.example.org; arc=none;\r\n  spf=pass smtp.mfrom=jqd@d1.example\r\n' +
      'Authentication-Results: lists.example.org; dkim=pass (1024-bit key; from a; b) header.i=@d1.example\r\n' +
      'Authentication-Results: lists.example.org; dmarc=pass\r\n' +
      'Authentication-Results: nobody.example.org; something=ignored\r\n' +
      'From: a@b\r\n\r\nbody\r\n',
  );
  assert.equal(
    collectAuthResults(raw, 'lists.example.org'),
    'lists.example.org; arc=none;\r\n spf=pass smtp.mfrom=jqd@d1.example;\r\n dkim=pass (1024-bit key; from a; b) header.i=@d1.example;\r\n dmarc=pass',
  );
  assert.equal(collectAuthResults(raw, 'absent.example'), null);
});
