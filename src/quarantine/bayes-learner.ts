// Learning a held message as spam or ham (the console's "learn" button), over the same
// Bayes store the gateway scores with; X-Spam headers are removed first (learnRaw).
import { Bayes, type BayesStore, type SpamClass } from '../pipeline/filter/spam/index.ts';
import { learnRaw } from '../pipeline/filter/spam-learn.ts';

export type BayesLearner = (message: Buffer, cls: SpamClass) => Promise<void>;

export function bayesLearner(store: BayesStore): BayesLearner {
  const bayes = new Bayes(store);
  return async (message, cls) => {
    await learnRaw(bayes, message, cls);
  };
}
