// The spam engine: sums symbols from the checks and Bayes, applies score overrides,
// records failing checks instead of hiding them, and learns through Bayes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { SpamEngine, Bayes, MemoryBayesStore, type SpamCheck, type SpamInput } from '../../src/pipeline/filter/spam/index.ts';

const NOW = new Date('2024-01-15T10:00:00Z');

async function mail(subject: string, body: string, extra = ''): Promise<SpamInput> {
  const raw = Buffer.from(
    `From: Alice <alice@sender.example>\r\nTo: bob@ours.example\r\nSubject: ${subject}\r\nDate: Mon, 15 Jan 2024 09:58:00 +0000\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\n${extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
  return { raw, parsed: await PostalMime.parse(raw), now: NOW, localDomains: ['ours.example'] };
}

const fixed = (name: string, score: number): SpamCheck => ({
  name: `fixed-${name}`,
  run: () => [{ name, score, description: `always ${name}` }],
});

test('sums the symbols of all checks, rounded to 0.01', async () => {
  const engine = new SpamEngine({ checks: [fixed('A', 1.1), fixed('B', 2.2), { name: 'async', run: async () => [{ name: 'C', score: -0.3, description: 'c' }] }] });
  const r = await engine.scan(await mail('hello', 'hello there'));
  assert.equal(r.score, 3);
  assert.deepEqual(r.symbols.map((s) => s.name), ['A', 'B', 'C']);
  assert.deepEqual(r.errors, []);
});

test('the default checks score a clean message 0 and a forged one above the tag threshold', async () => {
  const engine = new SpamEngine();
  const clean = await engine.scan(await mail('Notes', 'Hi Bob, the notes from the meeting are below. Regards, Alice'));
  const { checkMs, ...verdict } = clean;
  assert.deepEqual(verdict, { score: 0, symbols: [], errors: [] });
  assert.ok(checkMs && Object.values(checkMs).every((ms) => ms >= 0), 'each check reports its cost');
  const forged = await mail('WIN A FREE PRIZE NOW', 'Visit http://203.0.113.9/claim to claim it.', 'X-Priority: 1\r\n');
  const noDate = { ...forged, raw: Buffer.from(forged.raw.toString().replace(/^Date:.*\r\n/m, '')), parsed: await PostalMime.parse(forged.raw.toString().replace(/^Date:.*\r\n/m, '')) };
  const r = await engine.scan({ ...noDate, auth: { spf: 'fail', dmarc: 'fail', dmarcPolicy: 'reject' } });
  assert.ok(r.score >= 5, JSON.stringify(r));
  for (const n of ['MISSING_DATE', 'SUBJ_ALL_CAPS', 'URI_NUMERIC_HOST', 'PRIORITY_HIGH', 'SPF_FAIL', 'DMARC_FAIL_REJECT']) {
    assert.ok(r.symbols.some((s) => s.name === n), n);
  }
});

test('score overrides replace the default score of a symbol', async () => {
  const engine = new SpamEngine({ checks: [fixed('A', 1), fixed('B', 2)], scores: { A: 0, B: 4.5 } });
  const r = await engine.scan(await mail('x', 'y'));
  assert.equal(r.score, 4.5);
  assert.deepEqual(r.symbols.map((s) => [s.name, s.score]), [['A', 0], ['B', 4.5]]);
});

test('a failing check is reported, not hidden, and the other checks still run', async () => {
  const boom: SpamCheck = { name: 'boom', run: () => { throw new Error('resolver down'); } };
  const engine = new SpamEngine({ checks: [fixed('A', 1), boom, fixed('B', 1)] });
  const r = await engine.scan(await mail('x', 'y'));
  assert.equal(r.score, 2);
  assert.deepEqual(r.errors, [{ check: 'boom', error: 'resolver down' }]);
});

test('learn and forget go through Bayes; Bayes symbols join the score once it is ready', async () => {
  await assert.rejects(new SpamEngine().learn(await mail('x', 'y'), 'spam'), /no Bayes/);
  const bayes = new Bayes(new MemoryBayesStore(), { minSpam: 5, minHam: 5 });
  const engine = new SpamEngine({ checks: [], bayes });
  const spam = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => mail(`cheap pills offer ${i}`, `buy cheap pills casino bonus winner offer number ${i}`)));
  const ham = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => mail(`build report ${i}`, `the nightly build passed all tests, release branch report ${i}`)));
  const probe = await mail('cheap casino bonus', 'winner casino bonus cheap pills');
  assert.deepEqual((await engine.scan(probe)).symbols, [], 'not ready: no Bayes symbols');
  for (const m of spam) assert.equal(await engine.learn(m, 'spam'), 'learned');
  for (const m of ham) assert.equal(await engine.learn(m, 'ham'), 'learned');
  const r = await engine.scan(probe);
  assert.ok(r.symbols.some((s) => s.name.startsWith('BAYES_9')), JSON.stringify(r));
  assert.equal(await engine.forget(spam[0]!), true);
  assert.equal(await engine.forget(spam[0]!), false);
});
