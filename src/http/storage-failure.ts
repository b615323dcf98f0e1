import type { Logger } from '../observe/logger.js';
import { SluiceError } from './errors.js';

/** How long a client is told to wait before retrying a write the storage could not commit. */
const RETRY_AFTER_SECONDS = '1';

/**
 * Run a write and answer a storage failure (disk full, the database locked past its busy timeout,
 * the store thread gone) as 503 SLUICE_ERR_STORAGE_UNAVAILABLE with Retry-After: nothing was
 * stored and a retry may succeed, which a 500 does not tell the client. A refusal of the request
 * itself (a SluiceError: validation, conflict …) passes through unchanged.
 */
export async function committing<T>(logger: Logger, what: string, fields: Record<string, unknown>, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    logger.error(`${what} commit failed`, { ...fields, error: error instanceof Error ? error.message : String(error) });
    throw new SluiceError('SLUICE_ERR_STORAGE_UNAVAILABLE', 'the change could not be stored; retry later', {
      cause: error,
      headers: { 'retry-after': RETRY_AFTER_SECONDS },
    });
  }
}
