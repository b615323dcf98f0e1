import { z } from 'zod';
import { validate } from '../context.js';

/** The query of a newest-first listing: at most `limit` items, older than `cursor`. */
export const pageSchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().regex(/^[1-9][0-9]{0,15}$/, 'must be a cursor returned by a previous page').optional(),
  })
  .strip();

/** Read `?limit=&cursor=`; the cursor is the last id of the previous page. */
export function pageQuery(query: URLSearchParams): { limit: number; cursor?: string } {
  return validate(pageSchema, Object.fromEntries(query));
}
