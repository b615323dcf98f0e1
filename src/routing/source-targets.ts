import type { SourceConfig } from '../config/schema.js';
import type { Queue } from '../queues/registry.js';

/** A source's target that cannot take its messages: where in the source, and why. */
export interface SourceTargetProblem {
  path: (string | number)[];
  message: string;
}

/**
 * The first queue or workflow a source names that it may not send to: no such queue, a push queue
 * without a url, (with `tenant`) a queue of another tenant, or a workflow its owner does not have.
 * One check for sluice.yaml at start and for PUT /v1/sources/{name}, so both refuse the same sources
 * with the same words.
 *
 * `hasWorkflow` answers for the source's owner (sluice.yaml's sources belong to `default`): a run
 * always starts in the source's tenant, so another tenant's workflow of that name reads as none.
 */
export function sourceTargetProblem(
  source: SourceConfig,
  tenant: string | undefined,
  queueOf: (name: string) => Queue | undefined,
  hasWorkflow: (name: string) => boolean,
): SourceTargetProblem | undefined {
  const targets: { path: (string | number)[]; queue?: string; workflow?: string }[] = [];
  if (source.queue !== undefined) targets.push({ path: ['queue'], queue: source.queue });
  if (source.workflow !== undefined) targets.push({ path: ['workflow'], workflow: source.workflow });
  source.routes?.forEach((route, index) => targets.push({ path: ['routes', index, route.queue ? 'queue' : 'workflow'], queue: route.queue, workflow: route.workflow }));
  if (source.fallback !== undefined) targets.push({ path: ['fallback'], queue: source.fallback });
  for (const target of targets) {
    if (target.workflow !== undefined) {
      if (!hasWorkflow(target.workflow)) return { path: target.path, message: `no workflow named ${target.workflow}` };
      continue;
    }
    const queue = queueOf(target.queue!);
    if (!queue || (tenant !== undefined && queue.tenant !== tenant)) return { path: target.path, message: `no queue named ${target.queue}` };
    if (queue.config.mode === 'push' && !queue.config.url) return { path: target.path, message: `queue ${target.queue} is a push queue without a url` };
  }
  return undefined;
}
