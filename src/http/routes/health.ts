import { z } from 'zod';
import type { PlainEntry, PlainRoute } from '../server.js';
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

/** /healthz and /readyz with their descriptions. */
export function healthRoutes(): [string, PlainEntry][] {
  return [
    [
      '/healthz',
      {
        handler: healthz,
        doc: {
          summary: 'The process is alive',
          tag: 'monitoring',
          auth: 'none',
          response: { status: 200, schema: z.object({ status: z.literal('ok'), version: z.string() }), description: 'Alive' },
        },
      },
    ],
    [
      '/readyz',
      {
        handler: readyz,
        doc: {
          summary: 'Storage answers and the node is not shutting down',
          tag: 'monitoring',
          auth: 'none',
          response: { status: 200, schema: z.object({ status: z.literal('ready') }), description: 'Ready' },
          errors: ['SLUICE_ERR_SHUTTING_DOWN', 'SLUICE_ERR_STORAGE_UNAVAILABLE'],
        },
      },
    ],
  ];
}
