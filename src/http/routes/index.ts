// Every REST route module, registered in this order. Add yours with one line.
import type { RouteModule } from '../route-kit.ts';
import { healthRoutes } from './health.ts';
import { tokenRoutes } from './tokens.ts';
import { bayesRoutes } from './bayes.ts';
import { bodyChangeRoutes } from './body-changes.ts';
import { dkimRoutes } from './dkim.ts';
import { dnsblRoutes } from './dnsbl.ts';
import { engineRoutes } from './engines.ts';
import { fileRuleRoutes } from './filerules.ts';
import { filterPolicyRoutes } from './filter-policies.ts';
import { ruleRoutes } from './rules.ts';

export const ROUTE_MODULES: ReadonlyArray<{ name: string; routes: RouteModule }> = [
  { name: 'health', routes: healthRoutes },
  { name: 'tokens', routes: tokenRoutes },
  { name: 'filter-policies', routes: filterPolicyRoutes },
  { name: 'rules', routes: ruleRoutes },
  { name: 'filerules', routes: fileRuleRoutes },
  { name: 'body-changes', routes: bodyChangeRoutes },
  { name: 'dkim', routes: dkimRoutes },
  { name: 'dnsbl', routes: dnsblRoutes },
  { name: 'bayes', routes: bayesRoutes },
  { name: 'engines', routes: engineRoutes },
];
