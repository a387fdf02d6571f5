// /api/v1/bayes: the classifier's statistics, and training it with a message.
import { bayesStats, learnMessages } from '../../services/bayes-service.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { messageText } from './filter-schemas.ts';

const statsProps = { spamMessages: { type: 'integer' }, hamMessages: { type: 'integer' }, tokens: { type: 'integer' }, minSpam: { type: 'integer' }, minHam: { type: 'integer' }, ready: { type: 'boolean' } } as const;
const statsSchema = { type: 'object', required: ['spamMessages', 'hamMessages', 'tokens', 'ready'], properties: statsProps } as const;
const tags = ['bayes'];

export const bayesRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/bayes', {
    config: { permission: 'bayes.read' },
    schema: { tags, summary: 'Messages learned per class, tokens, and whether it scores yet', response: { 200: statsSchema } },
  }, async (req) => bayesStats(ctx.db, actorOf(req)));

  app.post('/api/v1/bayes/learn', {
    config: { permission: 'bayes.write' },
    schema: {
      tags,
      summary: 'Learn a message as spam or ham, or forget it',
      body: { type: 'object', required: ['as', 'message'], additionalProperties: false, properties: { as: { type: 'string', enum: ['spam', 'ham', 'forget'] }, message: messageText } },
      response: {
        200: {
          type: 'object',
          properties: { outcome: { type: 'string', description: 'learned, relearned, unchanged, forgotten, unknown or failed' }, stats: statsSchema },
        },
      },
    },
  }, async (req) => {
    const b = req.body as { as: string; message: string };
    const r = await learnMessages(ctx.db, actorOf(req), b.as, [Buffer.from(b.message, 'utf8')]);
    const outcome = (['learned', 'relearned', 'unchanged', 'forgotten', 'unknown', 'failed'] as const).find((k) => r[k] > 0) ?? 'unchanged';
    return { outcome, stats: r.stats };
  });
};
