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
import { sessionRoutes } from './session.ts';
import { userRoutes } from './users.ts';
import { auditRoutes } from './audit.ts';
import { bayesRoutes } from './bayes.ts';
import { bodyChangeRoutes } from './body-changes.ts';
import { dkimRoutes } from './dkim.ts';
import { dnsblRoutes } from './dnsbl.ts';
import { engineRoutes } from './engines.ts';
import { fileRuleRoutes } from './filerules.ts';
import { filterPolicyRoutes } from './filter-policies.ts';
import { ruleRoutes } from './rules.ts';
import { metricsRoutes } from './metrics.ts';
import { encryptionRoutes } from './encryption.ts';
import { certificateRoutes } from './certificates.ts';
import { submissionRoutes } from './submission.ts';
import { portalRoutes } from './portal.ts';

export const ROUTE_MODULES: ReadonlyArray<{ name: string; routes: RouteModule }> = [
  { name: 'health', routes: healthRoutes },
  { name: 'session', routes: sessionRoutes },
  { name: 'users', routes: userRoutes },
  { name: 'tokens', routes: tokenRoutes },
  { name: 'relay-policy', routes: relayPolicyRoutes },
  { name: 'settings', routes: settingsRoutes },
  { name: 'queue', routes: queueRoutes },
  { name: 'trace', routes: traceRoutes },
  { name: 'quarantine', routes: quarantineRoutes },
  { name: 'lists', routes: listsRoutes },
  { name: 'dashboard', routes: dashboardRoutes },
  { name: 'audit', routes: auditRoutes },
  { name: 'filter-policies', routes: filterPolicyRoutes },
  { name: 'rules', routes: ruleRoutes },
  { name: 'filerules', routes: fileRuleRoutes },
  { name: 'body-changes', routes: bodyChangeRoutes },
  { name: 'dkim', routes: dkimRoutes },
  { name: 'dnsbl', routes: dnsblRoutes },
  { name: 'bayes', routes: bayesRoutes },
  { name: 'engines', routes: engineRoutes },
  { name: 'metrics', routes: metricsRoutes },
  { name: 'encryption', routes: encryptionRoutes },
  { name: 'certificates', routes: certificateRoutes },
  { name: 'submission', routes: submissionRoutes },
  { name: 'portal', routes: portalRoutes },
];
