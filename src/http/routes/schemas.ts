// JSON Schema pieces the core route modules share. Objects allow more properties than
// they list (additionalProperties), so a service can add a field without a route
// silently dropping it from the answer; the listed ones are what clients rely on.
export const str = { type: 'string' } as const;
export const nstr = { type: 'string', nullable: true } as const;
export const bool = { type: 'boolean' } as const;
export const num = { type: 'number' } as const;
export const date = { type: 'string', format: 'date-time' } as const;
export const ndate = { type: 'string', format: 'date-time', nullable: true } as const;

/** An object schema: the listed properties, others passed through. */
export function obj(properties: Record<string, object>, required: string[] = []) {
  return { type: 'object', additionalProperties: true, required, properties } as const;
}

export const anyObject = { type: 'object', additionalProperties: true } as const;
export const paramOf = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', minLength: 1 } } }) as const;
