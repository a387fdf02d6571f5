// /api/v1/lists: allow and block lists, global or per recipient/domain.
import { addToList, listListEntries, removeListEntry } from '../../services/lists-service.ts';
import type { ListEntryInput } from '../../db/repos/lists.ts';
import { actorOf, okSchema, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { ndate, nstr, num, obj, str } from './schemas.ts';

const entrySchema = obj({ id: num, list: str, owner: str, kind: str, value: str, comment: nstr, createdAt: ndate }, ['id', 'list', 'value']);

export const listsRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/lists', {
    config: { permission: 'lists.read' },
    schema: { tags: ['lists'], summary: 'Allow and block list entries', querystring: pageQuery({ list: str, owner: str }), response: { 200: pageOf(entrySchema) } },
  }, async (req) => listListEntries(ctx.db, actorOf(req), req.query as { list?: string; owner?: string; cursor?: string; limit?: number }));

  app.post('/api/v1/lists', {
    config: { permission: 'lists.write' },
    schema: {
      tags: ['lists'],
      summary: 'Add an address, domain or network to a list',
      body: { type: 'object', additionalProperties: false, required: ['list', 'value'], properties: { list: str, value: str, owner: str, comment: nstr } },
      response: { 201: entrySchema },
    },
  }, async (req, reply) => reply.status(201).send(await addToList(ctx.db, actorOf(req), req.body as ListEntryInput)));

  app.delete('/api/v1/lists/:id', {
    config: { permission: 'lists.write' },
    schema: { tags: ['lists'], summary: 'Remove a list entry', params: { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } }, response: { 200: okSchema } },
  }, async (req) => {
    await removeListEntry(ctx.db, actorOf(req), (req.params as { id: number }).id);
    return { ok: true };
  });
};
