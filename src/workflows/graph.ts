import { conditionPaths, type Condition } from '../routing/conditions.js';
import { parseText } from '../templates/placeholders.js';

/**
 * The shape of a workflow as a graph of steps, and what PUT /v1/workflows/{name} refuses about it.
 * A step leads on in up to three ways: success (its `onSuccess`, else the next step), failure (its
 * `onFailure`; none: the run fails) and a skip when its `when` is false (the next step). `end`, or
 * running past the last step, ends the run. This file reads only those fields, so the config schema
 * can check a workflow with it.
 */

/** The name that ends a run when a branch names it; no step may take it. */
export const END = 'end';

/** What the graph reads of a step. */
export interface GraphStep {
  name: string;
  request: { url?: string | undefined; headers: Record<string, string>; body?: unknown };
  when?: Condition | undefined;
  delayMs?: number | undefined;
  onSuccess?: string | undefined;
  onFailure?: string | undefined;
}

/** One problem, at the field that has it (`steps.2.onSuccess`). */
export interface GraphIssue {
  path: (string | number)[];
  message: string;
}

/** Where a branch leads: a step's index, or undefined for the end of the run. */
export function branchTarget(steps: readonly Pick<GraphStep, 'name'>[], branch: string | undefined, after: number): number | undefined {
  if (branch === undefined) return after + 1 < steps.length ? after + 1 : undefined;
  if (branch === END) return undefined;
  const index = steps.findIndex((step) => step.name === branch);
  return index < 0 ? undefined : index;
}

/** The steps a step can lead to, by index. */
function successors(steps: readonly GraphStep[], index: number): number[] {
  const step = steps[index]!;
  const next: (number | undefined)[] = [branchTarget(steps, step.onSuccess, index)];
  if (step.onFailure !== undefined) next.push(branchTarget(steps, step.onFailure, index));
  if (step.when !== undefined) next.push(branchTarget(steps, undefined, index));
  return [...new Set(next.filter((target): target is number => target !== undefined))];
}

/**
 * Every problem of a workflow's graph: duplicate names, a step named `end`, branches to unknown
 * steps, references to steps that cannot have run before the step that reads them, and loops in
 * which no step waits (a `delayMs`), which would send as fast as limits allow for as long as the
 * run lasts.
 */
export function graphIssues(steps: readonly GraphStep[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const names = new Map<string, number>();
  steps.forEach((step, index) => {
    if (step.name === END) issues.push({ path: ['steps', index, 'name'], message: `"${END}" ends a run: a step cannot take that name` });
    else if (names.has(step.name)) issues.push({ path: ['steps', index, 'name'], message: `step ${step.name} is already defined at steps.${names.get(step.name)}` });
    else names.set(step.name, index);
  });
  steps.forEach((step, index) => {
    for (const field of ['onSuccess', 'onFailure'] as const) {
      const branch = step[field];
      if (branch !== undefined && branch !== END && !names.has(branch)) issues.push({ path: ['steps', index, field], message: `no step named ${branch}` });
    }
  });
  if (issues.length > 0) return issues;
  const reach = reachability(steps);
  steps.forEach((step, index) => {
    for (const { name, path } of stepReferences(step)) {
      const from = names.get(name);
      const ran = from !== undefined && reach[from]!.has(index);
      if (!ran) {
        const why = from === undefined ? `no step named ${name}` : `step ${name} cannot have run before step ${step.name}`;
        issues.push({ path: ['steps', index, ...path], message: why });
      }
    }
  });
  for (const loop of loopsWithoutDelay(steps, reach)) {
    const first = loop[0]!;
    const through = loop.map((index) => steps[index]!.name).join(' → ');
    issues.push({ path: ['steps', first], message: `steps ${through} can loop without end and without a delay: give one of them a delayMs, or a branch to end` });
  }
  return issues;
}

/** reach[i]: the steps a run can come to after step i (itself included only through a loop). */
function reachability(steps: readonly GraphStep[]): Set<number>[] {
  return steps.map((_, start) => {
    const seen = new Set<number>();
    const stack = successors(steps, start);
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (seen.has(index)) continue;
      seen.add(index);
      stack.push(...successors(steps, index));
    }
    return seen;
  });
}

/**
 * The loops (steps that can come back to themselves, grouped by the loop they share) in which no
 * step has a delay. A loop that can be left is still refused when it has no delay: whether it is left
 * depends on what targets answer, and until then it would run hot.
 */
function loopsWithoutDelay(steps: readonly GraphStep[], reach: Set<number>[]): number[][] {
  const done = new Set<number>();
  const loops: number[][] = [];
  steps.forEach((_, index) => {
    if (done.has(index) || !reach[index]!.has(index)) return;
    const loop = [...reach[index]!].filter((other) => reach[other]!.has(index)).sort((a, b) => a - b);
    for (const member of loop) done.add(member);
    if (!loop.some((member) => (steps[member]!.delayMs ?? 0) > 0)) loops.push(loop);
  });
  return loops;
}

/** The steps a step reads (`{{ steps.x… }}` in its request, `steps.x…` in its `when`), with the field that reads each. */
export function stepReferences(step: GraphStep): { name: string; path: (string | number)[] }[] {
  const found: { name: string; path: (string | number)[] }[] = [];
  const texts = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      for (const segment of parseText(value, STEP_ROOTS)) if (typeof segment !== 'string' && segment.root === 'steps') found.push({ name: segment.path[0]!, path });
    } else if (Array.isArray(value)) value.forEach((item, index) => texts(item, [...path, index]));
    else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) texts(item, [...path, key]);
  };
  if (step.request.url !== undefined) texts(step.request.url, ['request', 'url']);
  for (const [name, value] of Object.entries(step.request.headers)) texts(value, ['request', 'headers', name]);
  if (step.request.body !== undefined) texts(step.request.body, ['request', 'body']);
  if (step.when !== undefined) {
    for (const { path, at } of conditionPaths(step.when)) {
      const segments = path.split('.');
      if (segments[0] === 'steps' && segments[1] !== undefined) found.push({ name: segments[1], path: ['when', ...at] });
    }
  }
  return found;
}

/** The placeholder roots of a step's request. */
export const STEP_ROOTS: ReadonlySet<string> = new Set(['vars', 'secrets', 'steps']);
