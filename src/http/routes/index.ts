// Every REST route module, registered in this order. Add yours with one line.
import type { RouteModule } from '../route-kit.ts';
import { healthRoutes } from './health.ts';
import { tokenRoutes } from './tokens.ts';
import { sessionRoutes } from './session.ts';
import { userRoutes } from './users.ts';
import { auditRoutes } from './audit.ts';

export const ROUTE_MODULES: ReadonlyArray<{ name: string; routes: RouteModule }> = [
  { name: 'health', routes: healthRoutes },
  { name: 'session', routes: sessionRoutes },
  { name: 'users', routes: userRoutes },
  { name: 'tokens', routes: tokenRoutes },
  { name: 'audit', routes: auditRoutes },
];
