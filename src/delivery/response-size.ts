/**
 * How much of a response is kept: an attempt record keeps its first KiB; a workflow step keeps its
 * first 64 KiB with its run, where later steps read it.
 */
/** How much of a workflow step's response is kept with its run, and readable by later steps. */
export const STEP_RESPONSE_BYTES = 64 * 1024;

/** How much of any response an attempt record keeps. */
export const ATTEMPT_RESPONSE_BYTES = 1024;

/** The first ATTEMPT_RESPONSE_BYTES of a response body kept for an attempt record. */
export function attemptResponse(body: string): string {
  if (body.length <= ATTEMPT_RESPONSE_BYTES / 4) return body;
  const bytes = Buffer.from(body);
  return bytes.length <= ATTEMPT_RESPONSE_BYTES ? body : bytes.subarray(0, ATTEMPT_RESPONSE_BYTES).toString('utf8');
}
