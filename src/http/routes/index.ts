import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';
import type { PlainRoute } from '../server.js';
import { healthz, readyz } from './health.js';
import { registerLimitRoutes } from './limits.js';
import { registerMessageRoutes } from './messages.js';
import { registerPullRoutes } from './pull.js';
import { registerQueueRoutes } from './queues.js';
import { registerScheduleRoutes } from './schedules.js';
import { registerTenantRoutes } from './tenants.js';
import { registerObserveRoutes, observePlainRoutes } from './observe.js';

/** Every authenticated /v1 route, one group per file. */
export function registerApiRoutes(router: Router, app: ApiDeps): void {
  registerPullRoutes(router, app);
  registerQueueRoutes(router, app);
  registerMessageRoutes(router, app);
  registerScheduleRoutes(router, app);
  registerLimitRoutes(router, app);
  registerTenantRoutes(router, app);
  registerObserveRoutes(router, app);
}

/** Routes outside /v1: health, metrics, dashboard. */
export function plainRoutes(): Map<string, PlainRoute> {
  return new Map<string, PlainRoute>([['/healthz', healthz], ['/readyz', readyz], ...observePlainRoutes()]);
}
