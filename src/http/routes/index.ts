import type { ApiDeps } from '../deps.js';
import type { DocumentedRoute } from '../openapi.js';
import type { Router } from '../router.js';
import type { PlainEntry } from '../server.js';
import { apiReferenceRoutes } from './docs.js';
import { healthRoutes } from './health.js';
import { INGEST_ROUTES } from './ingest.js';
import { registerLimitRoutes } from './limits.js';
import { registerMessageRoutes } from './messages.js';
import { registerPullRoutes } from './pull.js';
import { registerQueueRoutes } from './queues.js';
import { registerScheduleRoutes } from './schedules.js';
import { registerSecretRoutes } from './secrets.js';
import { registerTemplateRoutes } from './templates.js';
import { registerWorkflowRoutes } from './workflows.js';
import { registerSourceRoutes } from './sources.js';
import { registerTenantRoutes } from './tenants.js';
import { registerObserveRoutes, observePlainRoutes } from './observe.js';

/** Every authenticated /v1 route, one group per file. */
export function registerApiRoutes(router: Router, app: ApiDeps): void {
  registerPullRoutes(router, app);
  registerQueueRoutes(router, app);
  registerSourceRoutes(router, app);
  registerMessageRoutes(router, app);
  registerScheduleRoutes(router, app);
  registerSecretRoutes(router, app);
  registerTemplateRoutes(router, app);
  registerWorkflowRoutes(router, app);
  registerLimitRoutes(router, app);
  registerTenantRoutes(router, app);
  registerObserveRoutes(router, app);
}

/** Routes outside /v1: health, metrics, dashboard, and the API reference built from `api` and these. */
export function plainRoutes(api: Router): Map<string, PlainEntry> {
  const routes = new Map<string, PlainEntry>([...healthRoutes(), ...observePlainRoutes()]);
  for (const [path, entry] of apiReferenceRoutes(() => documentedRoutes(api, routes))) routes.set(path, entry);
  return routes;
}

/** Every route the server answers, with its description: what the OpenAPI document lists. */
export function documentedRoutes(api: Router, plain: ReadonlyMap<string, PlainEntry>): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [...INGEST_ROUTES, ...api.routes()];
  for (const [path, entry] of plain) if (entry.doc !== 'page-file') routes.push({ method: 'GET', path, doc: entry.doc });
  return routes;
}
