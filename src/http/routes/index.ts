// Every REST route module, registered in this order. Add yours with one line.
import type { RouteModule } from '../route-kit.ts';
import { healthRoutes } from './health.ts';
import { tokenRoutes } from './tokens.ts';
import { relayPolicyRoutes } from './relay-policy.ts';
import { settingsRoutes } from './settings.ts';
import { queueRoutes } from './queue.ts';
import { traceRoutes } from './trace.ts';
import { quarantineRoutes } from './quarantine.ts';
import { listsRoutes } from './lists.ts';
import { dashboardRoutes } from './dashboard.ts';

export const ROUTE_MODULES: ReadonlyArray<{ name: string; routes: RouteModule }> = [
  { name: 'health', routes: healthRoutes },
  { name: 'tokens', routes: tokenRoutes },
  { name: 'relay-policy', routes: relayPolicyRoutes },
  { name: 'settings', routes: settingsRoutes },
  { name: 'queue', routes: queueRoutes },
  { name: 'trace', routes: traceRoutes },
  { name: 'quarantine', routes: quarantineRoutes },
  { name: 'lists', routes: listsRoutes },
  { name: 'dashboard', routes: dashboardRoutes },
];
