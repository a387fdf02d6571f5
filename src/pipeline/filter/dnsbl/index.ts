// DNS blocklists: the spam check (client IP and body links) and the session refusal.
export { dnsListCheck, type DnsListCheckOptions } from './check.ts';
export { dnsblRejectStage, dnsblRejection, type DnsblRejection } from './reject-stage.ts';
export { lookupLists, ipQueryPrefix, type ListReport, type ListHit, type ListProblem, type ALookup } from './lookup.ts';
export { registeredDomain, uriDomains } from './uri-domains.ts';
export { DEFAULT_IP_ZONES, DEFAULT_URI_ZONES, answerMatches, type DnsListZone } from './zones.ts';
