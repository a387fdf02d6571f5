// Every REST route module, registered in this order. Add yours with one line.
import type { RouteModule } from '../route-kit.ts';
import { healthRoutes } from './health.ts';
import { tokenRoutes } from './tokens.ts';
import { metricsRoutes } from './metrics.ts';

export const ROUTE_MODULES: ReadonlyArray<{ name: string; routes: RouteModule }> = [
  { name: 'health', routes: healthRoutes },
  { name: 'tokens', routes: tokenRoutes },
  { name: 'metrics', routes: metricsRoutes },
];
