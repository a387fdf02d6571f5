// JSON schemas shared by the filter routes (policies, rules, file rules, body changes,
// DKIM, blocklists, Bayes, engines): small, camelCase, one shape per resource.
export const anyObject = { type: 'object', additionalProperties: true } as const;
export const str = { type: 'string' } as const;
export const strOrNull = { type: 'string', nullable: true } as const;
export const numOrNull = { type: 'number', nullable: true } as const;
export const bool = { type: 'boolean' } as const;
export const strings = { type: 'array', items: { type: 'string' } } as const;

/** A whole message as RFC 5322 text (headers, blank line, body), at most 10 MB. */
export const messageText = { type: 'string', minLength: 1, maxLength: 10 * 1024 * 1024, description: 'the raw message (RFC 5322): headers, an empty line, the body' } as const;

export const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

export function listOf(item: object) {
  return { type: 'object', required: ['items'], properties: { items: { type: 'array', items: item } } } as const;
}
