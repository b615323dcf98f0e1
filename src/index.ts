/**
 * `sluice`: the typed client of the Sluice HTTP API. Importing it loads nothing of the server (no
 * SQLite, no timers); to run a node in-process, import `startSluice` from `sluice/server`.
 */
export { SluiceClient, type ClientOptions } from './client/client.js';
export { SluiceApiError, type ProblemDetails, type SluiceErrorCode } from './client/errors.js';
export { readServerSentEvents, type ServerSentEvent } from './client/sse.js';
export type * from './client/types.js';
