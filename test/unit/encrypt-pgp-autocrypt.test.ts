// Autocrypt Level 1 harvest rules, with keys made by GnuPG: the key offered for the
// From address is taken; other addresses, critical unknown attributes, duplicates and
// private keys are not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpg } from '../helpers/gpg.ts';
import { fromAddress, harvestAutocrypt, parseAutocryptHeader } from '../../src/pipeline/encrypt/pgp-autocrypt.ts';

let gpg: Gpg;
let keydata: string;
before(() => {
  gpg = new Gpg();
  gpg.generate('Dana <dana@partner.example>');
  keydata = gpg.ok(['--export', 'dana@partner.example']).toString('base64');
});
after(() => gpg?.close());

const folded = (b64: string) => b64.match(/.{1,72}/g)!.join('\r\n ');
const message = (from: string, ...autocrypt: string[]) =>
  Buffer.from([`From: ${from}`, 'To: alice@example.com', 'Subject: hi', ...autocrypt.map((a) => `Autocrypt: ${a}`), '', 'Hello', ''].join('\r\n'));

test('the key offered for the From address is harvested, folded keydata and all', async () => {
  const r = await harvestAutocrypt(message('Dana <Dana@Partner.example>', `addr=dana@partner.example; prefer-encrypt=mutual; keydata=\r\n ${folded(keydata)}`));
  assert.ok('harvested' in r, `harvested: ${'none' in r ? r.none : ''}`);
  assert.equal(r.harvested.address, 'dana@partner.example', 'the From address, lower case');
  assert.equal(r.harvested.preferEncrypt, 'mutual', 'prefer-encrypt');
  assert.equal(r.harvested.info.canEncrypt, true, 'usable');
  assert.deepEqual(r.harvested.info.addresses, ['dana@partner.example'], 'its user ID');
});

test('not harvested: another address, critical unknown attribute, two headers, no header', async () => {
  const other = await harvestAutocrypt(message('mallory@evil.example', `addr=dana@partner.example; keydata=${keydata}`));
  assert.ok('none' in other && /no valid Autocrypt header for the From address/.test(other.none), 'addr must match From');
  const critical = await harvestAutocrypt(message('dana@partner.example', `addr=dana@partner.example; future=1; keydata=${keydata}`));
  assert.ok('none' in critical, 'unknown critical attribute');
  const nonCritical = await harvestAutocrypt(message('dana@partner.example', `addr=dana@partner.example; _future=1; keydata=${keydata}`));
  assert.ok('harvested' in nonCritical, 'unknown _attribute is fine');
  const two = await harvestAutocrypt(message('dana@partner.example', `addr=dana@partner.example; keydata=${keydata}`, `addr=dana@partner.example; keydata=${keydata}`));
  assert.ok('none' in two && /several/.test(two.none), 'two headers: none counts');
  const absent = await harvestAutocrypt(message('dana@partner.example'));
  assert.ok('none' in absent && /no Autocrypt header/.test(absent.none), 'no header');
  const junk = await harvestAutocrypt(message('dana@partner.example', 'addr=dana@partner.example; keydata=AAAA'));
  assert.ok('none' in junk && /unreadable keydata/.test(junk.none), 'junk keydata');
});

test('a private key in keydata is refused', async () => {
  const secret = gpg.ok(['--export-secret-keys', 'dana@partner.example']).toString('base64');
  const r = await harvestAutocrypt(message('dana@partner.example', `addr=dana@partner.example; keydata=${secret}`));
  assert.ok('none' in r && /private key/.test(r.none), `refused: ${'none' in r ? r.none : 'harvested'}`);
});

test('header parsing and From address', () => {
  assert.equal(parseAutocryptHeader('addr=a@b.example'), null, 'keydata required');
  assert.equal(parseAutocryptHeader('addr=a@b.example; addr=c@d.example; keydata=AAAA'), null, 'duplicate attribute');
  assert.equal(fromAddress(Buffer.from('From: a@b.example, c@d.example\r\n\r\n')), null, 'several From addresses');
  assert.equal(fromAddress(Buffer.from('From: "X" <A@B.example>\r\n\r\n')), 'a@b.example', 'name-addr');
});
