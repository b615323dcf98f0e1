import type { z } from 'zod';

const byName = new Map<string, z.ZodType>();

/**
 * Name a shape the API answers with. The OpenAPI document lists a named schema once, under
 * `components/schemas/<name>`, and every route answering with it (or with a list of it) refers to
 * that entry; unnamed schemas are written out in place.
 *
 * @example
 * export const messageViewSchema = apiSchema('Message', z.object({ id: z.string(), ... }));
 */
export function apiSchema<T extends z.ZodType>(name: string, schema: T): T {
  const existing = byName.get(name);
  if (existing !== undefined && existing !== schema) throw new Error(`two API schemas are named ${name}`);
  byName.set(name, schema);
  return schema;
}

/** Every named schema, by name. */
export function namedApiSchemas(): ReadonlyMap<string, z.ZodType> {
  return byName;
}
