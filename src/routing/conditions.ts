import { z } from 'zod';

/**
 * The one condition language of Sluice: a source's routes (`when`) use it today, and workflow steps'
 * `when` are to read the same conditions with other roots. A condition is a leaf
 * `{ path, op, value? }` or a combinator `{ all: [...] }`, `{ any: [...] }`, `{ not: {...} }`.
 *
 * Evaluation reads values through a `Resolve` function the caller gives (routing: the ingested
 * request), so the language knows nothing of where its values come from. It never runs code, never
 * builds a regular expression from user input, and is bounded: depth, leaf count and list sizes are
 * capped at validation, so evaluating one condition costs at most a few hundred comparisons.
 */

export const CONDITION_OPS = ['eq', 'ne', 'in', 'exists', 'prefix', 'gt', 'gte', 'lt', 'lte'] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

/** A JSON value as conditions compare them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface LeafCondition {
  path: string;
  op: ConditionOp;
  value?: JsonValue;
}
export type Condition = LeafCondition | { all: Condition[] } | { any: Condition[] } | { not: Condition };

/**
 * What a path reads when the thing below its root cannot be read at all (a `body.*` path of a body
 * that is not JSON): every leaf on it is false, whatever its op (`ne` and `exists` too).
 */
export const UNREADABLE: unique symbol = Symbol('unreadable');

/**
 * What a path reads: the value, `undefined` when the path names nothing, or UNREADABLE. It gets the
 * path split at its dots (`body.a.b` → body, a, b), split once per condition, not per request.
 */
export type Resolve = (segments: readonly string[]) => JsonValue | undefined | typeof UNREADABLE;

/** Each leaf's path split at its dots, kept with the leaf (conditions are checked on every request). */
const splitPaths = new WeakMap<LeafCondition, readonly string[]>();

function segmentsOf(leaf: LeafCondition): readonly string[] {
  let segments = splitPaths.get(leaf);
  if (segments === undefined) splitPaths.set(leaf, (segments = leaf.path.split('.')));
  return segments;
}

/** Most nesting of all/any/not. */
export const MAX_CONDITION_DEPTH = 8;
/** Most leaves in one condition. */
export const MAX_CONDITION_LEAVES = 64;
/** Most values an `in` list holds. */
export const MAX_IN_VALUES = 256;
/** Longest path, in characters. */
const MAX_PATH = 256;
/** Most segments of a path (`body.a.b.c` has 4). */
const MAX_SEGMENTS = 16;

/** An issue found while checking a condition: a message and where, as a path below the condition. */
export interface ConditionIssue {
  path: (string | number)[];
  message: string;
}

/**
 * A zod schema for conditions whose paths start with one of `roots` (a root alone, like `path`, is a
 * whole value; `body.type` reads below `body`). Every problem is reported at the field that has it,
 * so a 400 names `routes.0.when.all.1.value` rather than "invalid condition".
 */
export function conditionSchema(roots: readonly string[]): z.ZodType<Condition> {
  return z.unknown().transform((value, ctx): Condition => {
    const issues: ConditionIssue[] = [];
    const leaves = { count: 0 };
    checkCondition(value, roots, [], 0, leaves, issues);
    if (leaves.count > MAX_CONDITION_LEAVES) issues.push({ path: [], message: `at most ${MAX_CONDITION_LEAVES} conditions in one` });
    for (const issue of issues) ctx.issues.push({ code: 'custom', path: issue.path, message: issue.message, input: value });
    return issues.length > 0 ? z.NEVER : (value as Condition);
  }) as unknown as z.ZodType<Condition>;
}

function checkCondition(
  value: unknown,
  roots: readonly string[],
  at: (string | number)[],
  depth: number,
  leaves: { count: number },
  issues: ConditionIssue[],
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path: at, message: 'must be a condition object: { path, op, value? } or { all | any | not }' });
    return;
  }
  if (depth > MAX_CONDITION_DEPTH) {
    issues.push({ path: at, message: `conditions nest at most ${MAX_CONDITION_DEPTH} deep` });
    return;
  }
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  for (const combinator of ['all', 'any'] as const) {
    if (!(combinator in record)) continue;
    if (keys.length !== 1) return besideCombinator(combinator, keys, at, issues);
    const list = record[combinator];
    if (!Array.isArray(list) || list.length === 0) return void issues.push({ path: [...at, combinator], message: 'must be a non-empty array of conditions' });
    list.forEach((item, index) => checkCondition(item, roots, [...at, combinator, index], depth + 1, leaves, issues));
    return;
  }
  if ('not' in record) {
    if (keys.length !== 1) return besideCombinator('not', keys, at, issues);
    return checkCondition(record.not, roots, [...at, 'not'], depth + 1, leaves, issues);
  }
  leaves.count += 1;
  for (const key of keys) {
    if (key !== 'path' && key !== 'op' && key !== 'value') issues.push({ path: [...at, key], message: 'unknown field (a condition has path, op and value, or all, any, not)' });
  }
  checkPath(record.path, roots, [...at, 'path'], issues);
  const op = record.op;
  if (typeof op !== 'string' || !(CONDITION_OPS as readonly string[]).includes(op)) {
    issues.push({ path: [...at, 'op'], message: `must be one of ${CONDITION_OPS.join(', ')}` });
    return;
  }
  checkValue(op as ConditionOp, 'value' in record, record.value, [...at, 'value'], issues);
}

/** A combinator with other fields beside it: each of them is the issue, so the 400 names the field to remove. */
function besideCombinator(combinator: string, keys: string[], at: (string | number)[], issues: ConditionIssue[]): void {
  for (const key of keys) {
    if (key !== combinator) issues.push({ path: [...at, key], message: `"${combinator}" stands alone: no other field beside it` });
  }
}

function checkPath(path: unknown, roots: readonly string[], at: (string | number)[], issues: ConditionIssue[]): void {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH) {
    issues.push({ path: at, message: `must be a path of 1-${MAX_PATH} characters, like ${roots.map((root) => `"${root}…"`).join(' or ')}` });
    return;
  }
  const segments = path.split('.');
  const root = segments[0]!;
  if (!roots.includes(root)) {
    issues.push({ path: at, message: `unknown root "${root}": a path starts with ${roots.join(', ')}` });
    return;
  }
  if (segments.length > MAX_SEGMENTS) issues.push({ path: at, message: `at most ${MAX_SEGMENTS} segments` });
  if (segments.some((segment) => segment === '')) issues.push({ path: at, message: 'has an empty segment' });
}

function checkValue(op: ConditionOp, present: boolean, value: unknown, at: (string | number)[], issues: ConditionIssue[]): void {
  if (op === 'exists') {
    if (present) issues.push({ path: at, message: '"exists" takes no value' });
    return;
  }
  if (!present) return void issues.push({ path: at, message: `"${op}" needs a value` });
  if (op === 'in') {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) {
      issues.push({ path: at, message: `"in" needs an array of 1-${MAX_IN_VALUES} values` });
    }
    return;
  }
  if (op === 'prefix') {
    if (typeof value !== 'string') issues.push({ path: at, message: '"prefix" needs a string' });
    return;
  }
  if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') {
    if (typeof value !== 'number' && typeof value !== 'string') issues.push({ path: at, message: `"${op}" needs a number or a string` });
    return;
  }
  if (value === undefined) issues.push({ path: at, message: `"${op}" needs a value` });
}

/** Whether `condition` holds for the values `resolve` reads. */
export function evaluate(condition: Condition, resolve: Resolve): boolean {
  if ('all' in condition) return condition.all.every((item) => evaluate(item, resolve));
  if ('any' in condition) return condition.any.some((item) => evaluate(item, resolve));
  if ('not' in condition) return !evaluate(condition.not, resolve);
  return test(condition, resolve(segmentsOf(condition)));
}

/** One step of an explanation: a condition, whether it held, and for a leaf the value it read. */
export interface Explanation {
  result: boolean;
  /** A leaf: the path, op and value as written. */
  path?: string;
  op?: ConditionOp;
  value?: JsonValue;
  /** A leaf: what the path read; absent when it named nothing. */
  actual?: JsonValue;
  /** A leaf whose path named nothing. */
  missing?: boolean;
  /** A leaf whose root could not be read (a body that is not JSON). */
  unreadable?: boolean;
  /** A combinator: which one, and its parts. */
  combinator?: 'all' | 'any' | 'not';
  parts?: Explanation[];
}

/**
 * Evaluate and say why: every leaf with the value it read. Unlike `evaluate` it does not stop at the
 * first deciding part, so a dry run shows every condition a request met or missed.
 */
export function explain(condition: Condition, resolve: Resolve): Explanation {
  if ('all' in condition) {
    const parts = condition.all.map((item) => explain(item, resolve));
    return { combinator: 'all', result: parts.every((part) => part.result), parts };
  }
  if ('any' in condition) {
    const parts = condition.any.map((item) => explain(item, resolve));
    return { combinator: 'any', result: parts.some((part) => part.result), parts };
  }
  if ('not' in condition) {
    const part = explain(condition.not, resolve);
    return { combinator: 'not', result: !part.result, parts: [part] };
  }
  const actual = resolve(segmentsOf(condition));
  const step: Explanation = { result: test(condition, actual), path: condition.path, op: condition.op };
  if (condition.value !== undefined) step.value = condition.value;
  if (actual === UNREADABLE) step.unreadable = true;
  else if (actual === undefined) step.missing = true;
  else step.actual = shorten(actual);
  return step;
}

/** A value as an explanation shows it: long strings cut, so a dry run never echoes a whole body. */
function shorten(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value.length > 200 ? `${value.slice(0, 200)}…` : value;
  if (typeof value === 'object' && value !== null) {
    const text = JSON.stringify(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : value;
  }
  return value;
}

function test(leaf: LeafCondition, actual: JsonValue | undefined | typeof UNREADABLE): boolean {
  if (actual === UNREADABLE) return false;
  switch (leaf.op) {
    case 'exists':
      return actual !== undefined;
    case 'eq':
      return actual !== undefined && same(actual, leaf.value!);
    case 'ne':
      return actual === undefined || !same(actual, leaf.value!);
    case 'in':
      return actual !== undefined && (leaf.value as JsonValue[]).some((item) => same(actual, item));
    case 'prefix':
      return typeof actual === 'string' && actual.startsWith(leaf.value as string);
    default:
      return compare(leaf.op, actual, leaf.value as number | string);
  }
}

/** Ordering: numbers with numbers, strings with strings (code-unit order: ISO dates order right); anything else is false. */
function compare(op: 'gt' | 'gte' | 'lt' | 'lte', actual: JsonValue | undefined, value: number | string): boolean {
  if (typeof actual !== typeof value || (typeof actual !== 'number' && typeof actual !== 'string')) return false;
  const a = actual as number | string;
  if (op === 'gt') return a > value;
  if (op === 'gte') return a >= value;
  if (op === 'lt') return a < value;
  return a <= value;
}

/** JSON equality: same type and value; arrays and objects compared member by member. */
function same(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as JsonValue[];
    return a.length === other.length && a.every((item, index) => same(item, other[index]!));
  }
  const left = Object.keys(a);
  const right = b as Record<string, JsonValue>;
  if (left.length !== Object.keys(right).length) return false;
  return left.every((key) => Object.hasOwn(right, key) && same(a[key]!, right[key]!));
}

/**
 * Read `segments` below a JSON value: object members by name, array items by decimal index. Own
 * members only, so `__proto__` or `constructor` name nothing unless the JSON has them.
 */
export function readJsonPath(value: JsonValue | undefined, segments: readonly string[], from = 0): JsonValue | undefined {
  let current = value;
  for (let index = from; index < segments.length; index += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    const segment = segments[index]!;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]{0,8})$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else {
      if (!Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    }
    if (current === undefined) return undefined;
  }
  return current;
}

/** Every leaf's path, with where the leaf stands in the condition (`['all', 1, 'path']`). */
export function conditionPaths(condition: Condition, at: (string | number)[] = []): { path: string; at: (string | number)[] }[] {
  if ('all' in condition) return condition.all.flatMap((item, index) => conditionPaths(item, [...at, 'all', index]));
  if ('any' in condition) return condition.any.flatMap((item, index) => conditionPaths(item, [...at, 'any', index]));
  if ('not' in condition) return conditionPaths(condition.not, [...at, 'not']);
  return [{ path: condition.path, at: [...at, 'path'] }];
}
