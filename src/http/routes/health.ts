import type { PlainRoute } from '../server.js';
import { sendJson, sendProblem } from '../context.js';
import { SluiceError } from '../errors.js';
import { VERSION } from '../../version.js';

/** GET /healthz: the process is alive. */
export const healthz: PlainRoute = (_app, _req, res) => sendJson(res, 200, { status: 'ok', version: VERSION });

/** GET /readyz: storage answers, and we are not shutting down. */
export const readyz: PlainRoute = async (app, _req, res) => {
  if (app.stopping) return sendProblem(res, new SluiceError('SLUICE_ERR_SHUTTING_DOWN'));
  try {
    await app.store.ping();
    sendJson(res, 200, { status: 'ready' });
  } catch (error) {
    sendProblem(res, new SluiceError('SLUICE_ERR_STORAGE_UNAVAILABLE', (error as Error).message, { cause: error }));
  }
};
