// The Bayes classifier, its in-memory store and the tokenizer, on small synthetic mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { Bayes, chi2Q, messageDigest } from '../../src/pipeline/filter/spam/bayes.ts';
import { MemoryBayesStore } from '../../src/pipeline/filter/spam/bayes-memory-store.ts';
import { ScanContext } from '../../src/pipeline/filter/spam/context.ts';
import { ipv6Groups, tokenize } from '../../src/pipeline/filter/spam/tokenizer.ts';
import type { SpamInput } from '../../src/pipeline/filter/spam/types.ts';

const NOW = new Date('2024-01-15T10:00:00Z');

async function mail(opts: { from?: string; subject: string; body: string; html?: boolean; id?: string; extraHeaders?: string }): Promise<SpamInput> {
  const raw = Buffer.from(
    `${opts.extraHeaders ?? ''}From: ${opts.from ?? 'Someone <someone@example.org>'}\r\nTo: bob@ours.example\r\nSubject: ${opts.subject}\r\n` +
      `Date: Mon, 15 Jan 2024 09:58:00 +0000\r\nMessage-ID: <${opts.id ?? Math.random().toString(36).slice(2)}@example.org>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: ${opts.html ? 'text/html' : 'text/plain'}; charset=utf-8\r\n\r\n${opts.body}\r\n`,
  );
  return { raw, parsed: await PostalMime.parse(raw), now: NOW };
}

/** A small seeded PRNG so the synthetic corpus is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPAM_WORDS = 'winner prize claim cash bonus offer free casino pills cheap discount guaranteed urgent lottery million credit loan viagra deal exclusive'.split(' ');
const HAM_WORDS = 'meeting agenda review patch release build tests commit branch deploy schedule lunch report budget kernel config thanks minutes draft'.split(' ');
const COMMON = 'the and you for this with have are will your about from more today please'.split(' ');

function text(rand: () => number, own: string[], n: number): string {
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    const list = r < 0.45 ? own : COMMON;
    words.push(list[Math.floor(rand() * list.length)]!);
  }
  return words.join(' ');
}

async function corpus(n: number, seed: number): Promise<{ spam: SpamInput[]; ham: SpamInput[] }> {
  const rand = prng(seed);
  const spam: SpamInput[] = [];
  const ham: SpamInput[] = [];
  for (let i = 0; i < n; i++) {
    spam.push(await mail({ from: `Promo <promo${i}@deals.example>`, subject: text(rand, SPAM_WORDS, 4), body: text(rand, SPAM_WORDS, 40), id: `s${seed}-${i}` }));
    ham.push(await mail({ from: `Dev ${i} <dev${i}@project.example>`, subject: text(rand, HAM_WORDS, 4), body: text(rand, HAM_WORDS, 40), id: `h${seed}-${i}` }));
  }
  return { spam, ham };
}

test('chi-square survival function and Fisher combining', () => {
  assert.equal(chi2Q(0, 2), 1);
  assert.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12);
  assert.ok(Math.abs(chi2Q(4, 4) - 3 * Math.exp(-2)) < 1e-12);
  const b = new Bayes(new MemoryBayesStore());
  assert.equal(b.combine([]).probability, 0.5);
  assert.ok(b.combine(Array(20).fill(0.99)).probability > 0.99);
  assert.ok(b.combine(Array(20).fill(0.01)).probability < 0.01);
  // Strong evidence both ways is "unsure", not an extreme.
  const mixed = b.combine([...Array(20).fill(0.99), ...Array(20).fill(0.01)]).probability;
  assert.ok(Math.abs(mixed - 0.5) < 0.05, String(mixed));
  // Robinson's f(w): an unseen-like token stays at the prior; one-class tokens move with evidence.
  assert.equal(b.tokenProbability(0, 0, 10, 10), 0.5);
  assert.ok(b.tokenProbability(1, 0, 10, 10) > 0.8 && b.tokenProbability(1, 0, 10, 10) < 0.95, "one sighting is pulled toward the prior");
  assert.ok(b.tokenProbability(20, 0, 100, 100) > b.tokenProbability(1, 0, 100, 100));
});

test('learns a small synthetic set and separates new spam from new ham once the minimum is lowered', async () => {
  const train = await corpus(25, 1);
  const bayes = new Bayes(new MemoryBayesStore(), { minSpam: 20, minHam: 20 });
  for (const m of train.spam) assert.equal(await bayes.learn(m, 'spam'), 'learned');
  for (const m of train.ham) assert.equal(await bayes.learn(m, 'ham'), 'learned');
  const stats = await bayes.stats();
  assert.equal(stats.spamMessages, 25);
  assert.equal(stats.hamMessages, 25);
  assert.equal(stats.ready, true);
  assert.ok(stats.tokens > 40);

  const test = await corpus(10, 2);
  for (const m of test.spam) {
    const r = await bayes.classify(m);
    assert.ok(r && r.probability > 0.95, `spam scored ${r?.probability}`);
    const names = bayes.symbolsFor(r.probability).map((s) => s.name);
    assert.ok(names.some((n) => ['BAYES_95', 'BAYES_99', 'BAYES_999'].includes(n)), names.join());
  }
  for (const m of test.ham) {
    const r = await bayes.classify(m);
    assert.ok(r && r.probability < 0.05, `ham scored ${r?.probability}`);
  }
  const check = bayes.asCheck();
  const spamSyms = await check.run(test.spam[0]!, new ScanContext(test.spam[0]!));
  assert.ok(spamSyms.reduce((s, x) => s + x.score, 0) >= 3, JSON.stringify(spamSyms));
  const hamSyms = await check.run(test.ham[0]!, new ScanContext(test.ham[0]!));
  assert.deepEqual(hamSyms.map((s) => s.name), ['BAYES_00']);
  assert.ok(hamSyms[0]!.score < 0);
});

test('refuses to score below the minimum (200 of each by default)', async () => {
  const train = await corpus(30, 3);
  const bayes = new Bayes(new MemoryBayesStore());
  for (const m of train.spam) await bayes.learn(m, 'spam');
  for (const m of train.ham) await bayes.learn(m, 'ham');
  assert.equal((await bayes.stats()).ready, false);
  assert.equal(await bayes.classify(train.spam[0]!), null);
  assert.deepEqual(await bayes.asCheck().run(train.spam[0]!, new ScanContext(train.spam[0]!)), []);
  // Enough of one class is not enough.
  const lopsided = new Bayes(new MemoryBayesStore(), { minSpam: 5, minHam: 5 });
  for (const m of train.spam) await lopsided.learn(m, 'spam');
  assert.equal(await lopsided.classify(train.spam[0]!), null);
});

test('one symbol named after the SpamAssassin buckets, scored on the log-odds curve', () => {
  const b = new Bayes(new MemoryBayesStore());
  const names = (p: number) => b.symbolsFor(p).map((s) => s.name);
  assert.deepEqual(names(0), ['BAYES_00']);
  assert.deepEqual(names(0.03), ['BAYES_05']);
  assert.deepEqual(names(0.5), ['BAYES_50']);
  assert.deepEqual(names(0.9), ['BAYES_80']);
  assert.deepEqual(names(0.995), ['BAYES_99']);
  assert.deepEqual(names(0.9999), ['BAYES_999']);
  const score = (p: number) => b.symbolsFor(p).reduce((s, x) => s + x.score, 0);
  for (let p = 0; p < 1; p += 0.01) assert.ok(score(p + 0.01) >= score(p), `monotonic at ${p}`);
  // Calibration: unsure mail (0.2 to 0.8) scores about nothing, as SpamAssassin's BAYES_40
  // and BAYES_50 nearly do; the score rises only at the extremes. Confident ham earns about
  // BAYES_00; from p = 0.999 the classifier alone reaches the quarantine level (5).
  for (const p of [0.2, 0.3, 0.5, 0.7, 0.8]) assert.ok(Math.abs(score(p)) <= 0.05, `p=${p} scores ${score(p)}, want about 0`);
  assert.ok(score(0.9) > 0.5 && score(0.9) < 1.5, `p=0.9 scores ${score(0.9)}`);
  assert.ok(score(0.95) > 1.5 && score(0.95) < 2.5, `p=0.95 scores ${score(0.95)}`);
  assert.ok(score(0.99) >= 3.5 && score(0.99) < 5, `p=0.99 scores ${score(0.99)}: quarantined only with a rule agreeing`);
  assert.ok(score(0.999) >= 5, `p=0.999 scores ${score(0.999)}`);
  assert.ok(score(0.99999) >= 6, `p=0.99999 scores ${score(0.99999)}`);
  assert.ok(score(0.05) < -0.3 && score(0.05) > -1, `p=0.05 scores ${score(0.05)}`);
  assert.ok(score(0) <= -1.9, `p=0 scores ${score(0)}`);
  assert.ok(score(0.1) > -0.5 && score(0.1) < 0, `p=0.1 scores ${score(0.1)}: far from the tag level`);
  // Without the curve, SpamAssassin's fixed scores, BAYES_999 on top of BAYES_99.
  const fixed = new Bayes(new MemoryBayesStore(), { curve: null });
  assert.deepEqual(fixed.symbolsFor(0.9999).map((s) => s.name), ['BAYES_99', 'BAYES_999']);
  assert.equal(fixed.symbolsFor(0.5)[0]!.score, 0.8);
});

test('forget undoes learn; relearning the same message is a no-op; learning it as the other class moves it', async () => {
  const store = new MemoryBayesStore();
  const bayes = new Bayes(store, { minSpam: 1, minHam: 1 });
  const { spam, ham } = await corpus(3, 4);
  for (const m of ham) await bayes.learn(m, 'ham');
  await bayes.learn(spam[0]!, 'spam');
  const tokens = bayes.tokenize(spam[1]!);
  const before = { totals: await store.totals(), size: await store.tokenCount(), counts: await store.counts(tokens) };

  assert.equal(await bayes.learn(spam[1]!, 'spam'), 'learned');
  const learned = { totals: await store.totals(), size: await store.tokenCount(), counts: await store.counts(tokens) };
  assert.equal(learned.totals.spam, before.totals.spam + 1);

  assert.equal(await bayes.learn(spam[1]!, 'spam'), 'unchanged');
  assert.deepEqual({ totals: await store.totals(), size: await store.tokenCount(), counts: await store.counts(tokens) }, learned);

  // The same message with trace and filter headers added on the way is the same message.
  const relayed = { ...spam[1]!, raw: Buffer.concat([Buffer.from('Received: from x by y; Mon, 15 Jan 2024 10:00:00 +0000\r\nX-Spam-Score: 7.1\r\n'), spam[1]!.raw]) };
  assert.equal(messageDigest(relayed.raw), messageDigest(spam[1]!.raw));
  const tagged = Buffer.from(spam[1]!.raw.toString('latin1').replace(/^Subject: /m, 'Subject: [SUSPECTED SPAM] '), 'latin1');
  assert.equal(messageDigest(tagged), messageDigest(spam[1]!.raw), 'a tagged subject is the same message');
  assert.notEqual(messageDigest(spam[2]!.raw), messageDigest(spam[1]!.raw));
  assert.equal(await bayes.learn(relayed, 'spam'), 'unchanged');

  assert.equal(await bayes.learn(spam[1]!, 'ham'), 'relearned');
  const moved = await store.totals();
  assert.deepEqual(moved, { spam: before.totals.spam, ham: before.totals.ham + 1 });
  assert.equal(await store.learned(messageDigest(spam[1]!.raw)), 'ham');

  assert.equal(await bayes.forget(spam[1]!), true);
  assert.deepEqual({ totals: await store.totals(), size: await store.tokenCount(), counts: await store.counts(tokens) }, before);
  assert.equal(await store.learned(messageDigest(spam[1]!.raw)), null);
  assert.equal(await bayes.forget(spam[1]!), false, 'forgetting twice does nothing');
  assert.deepEqual(await store.totals(), before.totals);

  await bayes.clear();
  assert.deepEqual(await bayes.stats(), { spamMessages: 0, hamMessages: 0, tokens: 0, minSpam: 1, minHam: 1, ready: false });
});

test('the memory store applies a batch all or nothing, and expires unused tokens', async () => {
  const store = new MemoryBayesStore();
  const t1 = new Date('2024-01-01T00:00:00Z');
  const t2 = new Date('2024-02-01T00:00:00Z');
  await store.apply([{ digest: 'a', cls: 'spam', delta: 1, tokens: ['x', 'y'], at: t1 }]);
  await assert.rejects(
    store.apply([
      { digest: 'b', cls: 'ham', delta: 1, tokens: ['x'], at: t1 },
      { digest: 'c', cls: 'ham', delta: 2 as 1, tokens: ['x'], at: t1 },
    ]),
  );
  assert.deepEqual(await store.totals(), { spam: 1, ham: 0 });
  assert.deepEqual([...(await store.counts(['x', 'y', 'z']))], [['x', { spam: 1, ham: 0 }], ['y', { spam: 1, ham: 0 }]]);
  await store.counts(['x'], t2); // a scan uses x in February
  assert.equal(await store.expire(new Date('2024-01-15T00:00:00Z')), 1);
  assert.deepEqual([...(await store.counts(['x', 'y']))].map(([t]) => t), ['x']);
});

test('tokenizer: prefixed header tokens, decoded and stripped bodies, URLs as hosts, bounded output', async () => {
  const html = await mail({
    from: 'Deals Team <offers@shop.example.net>',
    subject: 'FREE Shipping on all orders!!!',
    html: true,
    body: '<html><body><p>Get <b>FREE</b> shipping&nbsp;today at <a href="https://www.shop.example.net/sale?id=77">our store</a>.</p><script>var hidden = 1;</script></body></html>',
  });
  const toks = tokenize(html, new ScanContext(html));
  for (const t of ['subject:FREE', 'subject:shipping', 'subject:punct:!!!', 'from:dom:shop.example.net', 'from:dom:example.net', 'from:name:deals', 'FREE', 'shipping', 'today', 'url:www.shop.example.net', 'url:example.net', 'url:path:sale', 'html:only', 'ct:text/html', 'hdr:message-id']) {
    assert.ok(toks.includes(t), `missing ${t} in ${toks.join(' ')}`);
  }
  assert.ok(!toks.some((t) => t.includes('<') || t.includes('hidden') || t.includes('://')), toks.join(' '));
  assert.ok(!toks.includes('free'), 'capitals are kept apart from lower case');
  assert.ok(!toks.some((t) => t.startsWith('bi:')), 'no word pairs by default');
  // The SMTP client the gateway talked to: its networks and the name it greeted with.
  const relayed = { ...html, envelope: { mailFrom: 'offers@shop.example.net', rcptTo: ['bob@ours.example'], clientIp: '198.51.100.7', helo: 'mta7.mailer.example.com' } };
  const rt = tokenize(relayed, new ScanContext(relayed));
  for (const t of ['client:ip:198.51.100', 'client:ip:198.51', 'helo:example.com']) assert.ok(rt.includes(t), `missing ${t}`);
  const bare = { ...html, envelope: { mailFrom: '', rcptTo: [], clientIp: '198.51.100.7', helo: '[198.51.100.7]' } };
  assert.ok(tokenize(bare, new ScanContext(bare)).includes('helo:ip'));
  const v6 = { ...html, envelope: { mailFrom: '', rcptTo: [], clientIp: '2001:db8:0a1::25', helo: 'mx.mailer.example' } };
  const v6t = tokenize(v6, new ScanContext(v6));
  assert.ok(v6t.includes('client:ip6:2001:db8') && v6t.includes('client:ip6:2001:db8:a1'), v6t.filter((t) => t.startsWith('client')).join());
  assert.deepEqual(ipv6Groups('::1'), ['0', '0', '0', '0', '0', '0', '0', '1']);
  assert.equal(ipv6Groups('1::2::3'), null);

  const long = await mail({ subject: 'x', body: `${'supercalifragilisticexpialidocious '.repeat(3)}${Array.from({ length: 5000 }, (_, i) => `word${i}`).join(' ')}` });
  const lt = tokenize(long, new ScanContext(long), { maxTokens: 500 });
  assert.equal(lt.length, 500);
  assert.equal(new Set(lt).size, lt.length, 'tokens are distinct');
  assert.ok(lt.includes('skip:s:30'));
  assert.ok(lt.every((t) => t.length <= 120));
});

test('tokenizer: addresses in the body become email:<domain> tokens, also beside punctuation; long letter runs are words', async () => {
  const m = await mail({
    subject: 'contacts',
    body: `Write to sales.team@shop.example.net or (bob+news@mail.example.org), not to ${'X'.repeat(5000)}.\r\n`,
  });
  const toks = tokenize(m, new ScanContext(m));
  assert.ok(toks.includes('email:shop.example.net'), toks.join(' '));
  assert.ok(toks.includes('email:mail.example.org'), toks.join(' '));
  assert.ok(!toks.some((t) => /sales\.team|bob\+news/.test(t)), 'addresses are replaced by their domain token');
  assert.ok(toks.some((t) => t.startsWith('skip:')), 'the long run is one skip token');
});
