// Learning a released message as ham: the Bayes classifier over the database's store,
// with the message's own X-Spam headers removed first (learnRaw), so it learns the
// message and not our earlier verdict. Kept apart so the quarantine store itself does
// not depend on the spam engine.
import type { Db } from '../db/database.ts';
import { SqlBayesStore } from '../db/repos/bayes-store.ts';
import { Bayes } from '../pipeline/filter/spam/index.ts';
import { learnRaw } from '../pipeline/filter/spam-learn.ts';
import type { HamLearner } from './quarantine-service.ts';

export function hamLearner(db: Db): HamLearner {
  const bayes = new Bayes(new SqlBayesStore(db));
  return async (message) => {
    await learnRaw(bayes, message, 'ham');
  };
}
