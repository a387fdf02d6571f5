// The Bayes classifier: statistics, learning and forgetting messages, expiry and clear.
// Statistics are readable by domain administrators (the classifier is shared); training
// changes every domain's scoring, so it is an administrator's ("bayes.write").
import { loadSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import { SqlBayesStore } from '../db/repos/bayes-store.ts';
import { Bayes, type BayesStats, type SpamClass } from '../pipeline/filter/spam/index.ts';
import { forgetRaw, learnRaw } from '../pipeline/filter/spam-learn.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { ServiceError } from './service-error.ts';

export type { BayesStats };
export type LearnAs = SpamClass | 'forget';

async function bayesOn(db: Db): Promise<Bayes> {
  const s = await loadSettings(db);
  return new Bayes(new SqlBayesStore(db), { minSpam: s['spam.bayesMinSpam'], minHam: s['spam.bayesMinHam'] });
}

export async function bayesStats(db: Db, actor: Actor): Promise<BayesStats> {
  assertCan(actor, 'bayes.read');
  return (await bayesOn(db)).stats();
}

export interface LearnTally {
  learned: number;
  relearned: number;
  unchanged: number;
  forgotten: number;
  unknown: number;
  failed: number;
}

const emptyTally = (): LearnTally => ({ learned: 0, relearned: 0, unchanged: 0, forgotten: 0, unknown: 0, failed: 0 });

function learnAs(as: string): LearnAs {
  if (as !== 'spam' && as !== 'ham' && as !== 'forget') throw new ServiceError('invalid', 'say what the messages are: spam or ham (or forget)', { as: 'spam, ham or forget' });
  return as;
}

/** Messages learned (or forgotten) per transaction, each batch with its audit entry. */
const BATCH = 200;

/**
 * Learns messages as spam or ham, or forgets them. A message that cannot be read is
 * counted as failed (and reported through onError), not fatal for the rest.
 */
export async function learnMessages(
  db: Db,
  actor: Actor,
  asText: string,
  messages: ReadonlyArray<Buffer | (() => Buffer)>,
  o: { onProgress?: (done: number, tally: LearnTally) => void; onError?: (index: number, err: Error) => void } = {},
): Promise<LearnTally & { stats: BayesStats }> {
  assertCan(actor, 'bayes.write');
  const as = learnAs(asText);
  const tally = emptyTally();
  for (let start = 0; start < messages.length; start += BATCH) {
    const batch = messages.slice(start, start + BATCH);
    await inTransaction(db, async (trx) => {
      const bayes = await bayesOn(trx);
      const part = emptyTally();
      for (let i = 0; i < batch.length; i++) {
        try {
          const m = batch[i]!;
          const raw = typeof m === 'function' ? m() : m;
          if (as === 'forget') part[(await forgetRaw(bayes, raw)) ? 'forgotten' : 'unknown']++;
          else part[await learnRaw(bayes, raw, as)]++;
        } catch (err) {
          // A database failure ends the run (the batch rolls back); a bad message does not.
          if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE')) throw err;
          part.failed++;
          o.onError?.(start + i, err as Error);
        }
        o.onProgress?.(start + i + 1, sumTally(tally, part));
      }
      Object.assign(tally, sumTally(tally, part));
      await recordChange(trx, actor, { action: as === 'forget' ? 'bayes.forget' : `bayes.learn-${as}`, targetType: 'bayes', targetId: 'bayes', after: { messages: batch.length, ...part } });
    });
  }
  return { ...tally, stats: await (await bayesOn(db)).stats() };
}

function sumTally(a: LearnTally, b: LearnTally): LearnTally {
  return { learned: a.learned + b.learned, relearned: a.relearned + b.relearned, unchanged: a.unchanged + b.unchanged, forgotten: a.forgotten + b.forgotten, unknown: a.unknown + b.unknown, failed: a.failed + b.failed };
}

/** Removes tokens not used for `days` days; returns how many. */
export async function expireBayes(db: Db, actor: Actor, days: number): Promise<number> {
  assertCan(actor, 'bayes.write');
  if (!Number.isFinite(days) || days < 1) throw new ServiceError('invalid', '--days must be a number of days (1 or more)', { days: '1 or more' });
  return inTransaction(db, async (trx) => {
    const n = await new SqlBayesStore(trx).expire(new Date(Date.now() - days * 86_400_000));
    await recordChange(trx, actor, { action: 'bayes.expire', targetType: 'bayes', targetId: 'bayes', after: { days, tokensRemoved: n } });
    return n;
  });
}

/** Forgets everything the classifier learned. */
export async function clearBayes(db: Db, actor: Actor): Promise<void> {
  assertCan(actor, 'bayes.write');
  await inTransaction(db, async (trx) => {
    const before = await (await bayesOn(trx)).stats();
    await new SqlBayesStore(trx).clear();
    await recordChange(trx, actor, { action: 'bayes.clear', targetType: 'bayes', targetId: 'bayes', before: { spamMessages: before.spamMessages, hamMessages: before.hamMessages, tokens: before.tokens } });
  });
}
