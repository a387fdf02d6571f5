// Learning a released message as ham: the Bayes classifier over the database's store,
// with the message's own X-Spam headers removed first (learnRaw), so it learns the
// message and not our earlier verdict. Kept apart so the quarantine store itself does
// not depend on the spam engine.
import { Bayes, type BayesStore } from '../pipeline/filter/spam/index.ts';
import { learnRaw } from '../pipeline/filter/spam-learn.ts';
import type { HamLearner } from './quarantine-service.ts';

/** Learning needs no scoring thresholds, so one learner serves the gateway and the CLI alike. */
export function hamLearner(store: BayesStore): HamLearner {
  const bayes = new Bayes(store);
  return async (message) => {
    await learnRaw(bayes, message, 'ham');
  };
}
