// The SQL Bayes store behaves exactly as the in-memory reference store: the same
// operations give the same totals, counts, learned digests and expiry, and the
// classifier on top of it learns, forgets and scores the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { SqlBayesStore } from '../../src/db/repos/bayes-store.ts';
import { Bayes, MemoryBayesStore, messageDigest, type BayesStore, type SpamInput } from '../../src/pipeline/filter/spam/index.ts';
import { withDb } from '../helpers/temp-db.ts';

async function snapshot(store: BayesStore, tokens: string[]) {
  return { totals: await store.totals(), size: await store.tokenCount(), counts: [...(await store.counts(tokens))].sort() };
}

const t1 = new Date('2024-01-01T00:00:00Z');
const t2 = new Date('2024-02-01T00:00:00Z');

test('the SQL store answers like the memory store through learn, relearn, forget, a failed batch and expiry', async () => {
  await withDb(async (db) => {
    const sqlStore = new SqlBayesStore(db);
    const mem = new MemoryBayesStore();
    const all = ['x', 'y', 'z', 'w', 'quote\'s', 'ünï', 'a'.repeat(110)];
    const steps: Array<(s: BayesStore) => Promise<unknown>> = [
      (s) => s.apply([{ digest: 'm1', cls: 'spam', delta: 1, tokens: ['x', 'y', "quote's"], at: t1 }]),
      (s) => s.apply([{ digest: 'm2', cls: 'ham', delta: 1, tokens: ['x', 'z', 'ünï', 'a'.repeat(110)], at: t1 }]),
      // moved from spam to ham in one atomic batch
      (s) => s.apply([
        { digest: 'm1', cls: 'spam', delta: -1, tokens: ['x', 'y', "quote's"], at: t1 },
        { digest: 'm1', cls: 'ham', delta: 1, tokens: ['x', 'y', "quote's"], at: t1 },
      ]),
      (s) => s.apply([{ digest: 'm3', cls: 'spam', delta: 1, tokens: ['w'], at: t1 }]),
      (s) => s.apply([{ digest: 'm3', cls: 'spam', delta: -1, tokens: ['w'], at: t1 }]),
    ];
    for (const step of steps) {
      await step(sqlStore);
      await step(mem);
      assert.deepEqual(await snapshot(sqlStore, all), await snapshot(mem, all));
    }
    for (const d of ['m1', 'm2', 'm3']) assert.equal(await sqlStore.learned(d), await mem.learned(d));
    assert.equal(await sqlStore.learned('m1'), 'ham');

    // All or nothing: a bad change in a batch leaves the store as it was.
    const before = await snapshot(sqlStore, all);
    await assert.rejects(sqlStore.apply([
      { digest: 'b', cls: 'ham', delta: 1, tokens: ['x'], at: t1 },
      { digest: 'c', cls: 'ham', delta: 2 as 1, tokens: ['x'], at: t1 },
    ]));
    assert.deepEqual(await snapshot(sqlStore, all), before);
    assert.equal(await sqlStore.learned('b'), null);

    // Expiry: a token used by a scan in February survives; the others learned in January go.
    await sqlStore.counts(['x'], t2);
    await mem.counts(['x'], t2);
    const cut = new Date('2024-01-15T00:00:00Z');
    assert.equal(await sqlStore.expire(cut), await mem.expire(cut));
    assert.deepEqual(await snapshot(sqlStore, all), await snapshot(mem, all));
    assert.deepEqual((await snapshot(sqlStore, all)).counts.map(([t]) => t), ['x']);

    await sqlStore.clear();
    assert.deepEqual(await snapshot(sqlStore, all), { totals: { spam: 0, ham: 0 }, size: 0, counts: [] });
  });
});

async function mail(i: number, spam: boolean): Promise<SpamInput> {
  const words = spam ? 'winner prize cash casino pills lottery credit loan exclusive deal' : 'meeting agenda review patch release build commit branch deploy kernel';
  const w = words.split(' ');
  const body = Array.from({ length: 40 }, (_, k) => w[(i * 7 + k * 3) % w.length]).join(' ');
  const raw = Buffer.from(`From: ${spam ? 'promo' : 'dev'}${i}@x.example\r\nTo: bob@ours.example\r\nSubject: ${w[i % w.length]} ${w[(i + 3) % w.length]}\r\nMessage-ID: <${spam ? 's' : 'h'}${i}@x.example>\r\nDate: Mon, 15 Jan 2024 09:58:00 +0000\r\n\r\n${body}\r\n`);
  return { raw, parsed: await PostalMime.parse(raw), now: new Date('2024-01-15T10:00:00Z') };
}

test('the classifier on the SQL store learns, scores and forgets as on the memory store', async () => {
  await withDb(async (db) => {
    const onSql = new Bayes(new SqlBayesStore(db), { minSpam: 10, minHam: 10 });
    const onMem = new Bayes(new MemoryBayesStore(), { minSpam: 10, minHam: 10 });
    for (let i = 0; i < 12; i++) {
      for (const b of [onSql, onMem]) {
        assert.equal(await b.learn(await mail(i, true), 'spam'), 'learned');
        await b.learn(await mail(i, false), 'ham');
      }
    }
    assert.deepEqual(await onSql.stats(), await onMem.stats());
    for (const m of [await mail(50, true), await mail(51, false)]) {
      const [a, b] = [(await onSql.classify(m))!, (await onMem.classify(m))!];
      // Same tokens and counts; only the summing order (map order) may differ.
      assert.deepEqual({ tokens: a.tokens, used: a.used }, { tokens: b.tokens, used: b.used });
      assert.ok(Math.abs(a.probability - b.probability) < 1e-9, `${a.probability} vs ${b.probability}`);
    }
    const p = (await onSql.classify(await mail(50, true)))!.probability;
    assert.ok(p > 0.9, `new spam scores ${p}`);
    assert.equal(await onSql.learn(await mail(3, true), 'spam'), 'unchanged');
    assert.equal(await onSql.learn(await mail(3, true), 'ham'), 'relearned');
    assert.equal(await onSql.forget(await mail(3, true)), true);
    assert.equal(await onSql.store.learned(messageDigest((await mail(3, true)).raw)), null);
    assert.deepEqual((await onSql.stats()).spamMessages, 11);
  });
});
