/**
 * Wait until `check` returns a truthy value, or fail after `timeoutMs` with `what`. The default is
 * generous on purpose: it costs nothing when the condition comes, and a loaded machine is slow.
 * Nothing is asserted about how long the wait took. (A module of its own, so that tests which do not
 * start Sluice need not load the whole app to use it.)
 */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
