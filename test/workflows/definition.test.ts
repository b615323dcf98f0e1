import { describe, expect, it } from 'vitest';
import { workflowConfigSchema } from '../../src/config/schema.js';

/**
 * What a workflow definition may be: the graph checks of PUT /v1/workflows/{name} and sluice.yaml,
 * each problem named at the field that has it.
 */

const url = 'https://api.example.com/x';
const step = (name: string, extra: Record<string, unknown> = {}) => ({ name, request: { url }, ...extra });

function problems(workflow: unknown): { path: string; message: string }[] {
  const parsed = workflowConfigSchema.safeParse(workflow);
  return parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

describe('workflow definitions', () => {
  it('takes steps in order with branches, conditions, delays and retries, and fills defaults', () => {
    const parsed = workflowConfigSchema.parse({
      queue: 'outbound',
      priority: 7,
      steps: [
        step('check', { retry: { maxAttempts: 3 } }),
        step('upgrade', { when: { path: 'steps.check.response.body.plan', op: 'eq', value: 'free' }, onFailure: 'notify' }),
        step('notify', { delayMs: 1000, onSuccess: 'end' }),
      ],
    });
    expect(parsed.steps[0]!.request.method).toBe('POST');
    expect(parsed.steps[0]!.retry).toMatchObject({ maxAttempts: 3 });
    expect(parsed.steps[1]!.when).toEqual({ path: 'steps.check.response.body.plan', op: 'eq', value: 'free' });
  });

  it('refuses a branch to a step that does not exist, naming the field', () => {
    expect(problems({ steps: [step('a', { onSuccess: 'nowhere' }), step('b', { onFailure: 'gone' })] })).toEqual([
      { path: 'steps.0.onSuccess', message: 'no step named nowhere' },
      { path: 'steps.1.onFailure', message: 'no step named gone' },
    ]);
  });

  it('refuses two steps of one name, and a step named end', () => {
    expect(problems({ steps: [step('a'), step('a')] })).toEqual([{ path: 'steps.1.name', message: 'step a is already defined at steps.0' }]);
    expect(problems({ steps: [step('end')] })[0]!.path).toBe('steps.0.name');
  });

  it('refuses a step that reads a step that cannot have run before it: later, unknown, or on another branch', () => {
    const later = problems({ steps: [step('a', { request: { url: `${url}/{{ steps.b.response.body.id }}` } }), step('b')] });
    expect(later).toEqual([{ path: 'steps.0.request.url', message: 'step b cannot have run before step a' }]);
    const unknown = problems({ steps: [step('a'), step('b', { request: { url, body: { id: '{{ steps.zz.response.status }}' } } })] });
    expect(unknown).toEqual([{ path: 'steps.1.request.body.id', message: 'no step named zz' }]);
    const inWhen = problems({ steps: [step('a', { when: { not: { path: 'steps.b.response.status', op: 'exists' } } }), step('b')] });
    expect(inWhen).toEqual([{ path: 'steps.0.when.not.path', message: 'step b cannot have run before step a' }]);
    // a → end on success; b only runs when a failed: c (reached from b) may read b, but b may not read c.
    const branches = problems({
      steps: [
        step('a', { onSuccess: 'end', onFailure: 'b' }),
        step('b', { request: { url, headers: { 'x-c': '{{ steps.c.response.status }}' } } }),
        step('c', { request: { url, headers: { 'x-b': '{{ steps.b.response.status }}' } } }),
      ],
    });
    expect(branches).toEqual([{ path: 'steps.1.request.headers.x-c', message: 'step c cannot have run before step b' }]);
  });

  it('lets a step read an earlier step through a skip, and itself in a loop with a delay', () => {
    expect(problems({ steps: [step('a', { when: { path: 'vars.go', op: 'eq', value: true } }), step('b', { request: { url: `${url}?s={{ steps.a.response.status }}` } })] })).toEqual([]);
    const poll = { steps: [step('poll', { delayMs: 5000, request: { url: `${url}?last={{ steps.poll.response.body.cursor }}` }, onSuccess: 'poll', onFailure: 'end' })] };
    expect(problems(poll)).toEqual([]);
  });

  it('refuses a loop in which no step waits, naming its steps', () => {
    const found = problems({ steps: [step('a'), step('b', { onSuccess: 'a' })] });
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toBe('steps.0');
    expect(found[0]!.message).toContain('a → b');
    expect(problems({ steps: [step('a', { onFailure: 'a' })] })[0]!.message).toContain('delayMs');
    expect(problems({ steps: [step('a'), step('b', { onSuccess: 'a', delayMs: 10 })] })).toEqual([]);
  });

  it('refuses a secret in the origin of a step URL, and conditions on other roots', () => {
    expect(problems({ steps: [step('a', { request: { url: 'https://{{ secrets.host }}/x' } })] })[0]!.path).toBe('steps.0.request.url');
    expect(problems({ steps: [step('a', { when: { path: 'body.type', op: 'eq', value: 1 } })] })[0]!.path).toBe('steps.0.when.path');
  });

  it('takes at most 100 steps', () => {
    expect(problems({ steps: Array.from({ length: 101 }, (_, index) => step(`s${index}`)) })[0]!.path).toBe('steps');
    expect(problems({ steps: [] })[0]!.path).toBe('steps');
  });
});
