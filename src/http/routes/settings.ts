// /api/v1/settings: gateway settings held in the database (limits, retry schedule, ...).
import { getSetting, listSettings, resetSetting, setSetting } from '../../services/settings-service.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { bool, obj, paramOf, str } from './schemas.ts';

const settingSchema = obj({ key: str, value: {}, default: {}, isDefault: bool }, ['key']);

export const settingsRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/settings', {
    config: { permission: 'settings.read' },
    schema: { tags: ['settings'], summary: 'Every setting with its value and default', response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: settingSchema } } } } },
  }, async (req) => ({ items: await listSettings(ctx.db, actorOf(req)) }));

  app.get('/api/v1/settings/:key', {
    config: { permission: 'settings.read' },
    schema: { tags: ['settings'], summary: 'One setting', params: paramOf('key'), response: { 200: settingSchema } },
  }, async (req) => getSetting(ctx.db, actorOf(req), (req.params as { key: string }).key));

  app.put('/api/v1/settings/:key', {
    config: { permission: 'settings.write' },
    schema: { tags: ['settings'], summary: 'Change a setting (applies to the running gateway at once)', params: paramOf('key'), body: { type: 'object', required: ['value'], additionalProperties: false, properties: { value: {} } }, response: { 200: settingSchema } },
  }, async (req) => setSetting(ctx.db, actorOf(req), (req.params as { key: string }).key, (req.body as { value: unknown }).value));

  app.delete('/api/v1/settings/:key', {
    config: { permission: 'settings.write' },
    schema: { tags: ['settings'], summary: 'Back to the default', params: paramOf('key'), response: { 200: settingSchema } },
  }, async (req) => resetSetting(ctx.db, actorOf(req), (req.params as { key: string }).key));
};
