import { LIMIT_SCRIPTS, type LimitScript, type LimitScriptName } from './redis-scripts.js';

/** What the runner needs of a node-redis client. */
export interface ScriptClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  scriptLoad(script: string): Promise<string>;
}

/**
 * Runs the limit scripts by SHA. Every script is sent once with SCRIPT LOAD at start; calls are
 * EVALSHA, a few dozen bytes each instead of the script's text. When Redis answers NOSCRIPT (it
 * restarted, failed over, or someone ran SCRIPT FLUSH) the script is loaded again, once however
 * many calls hit it together, and the call is repeated: NOSCRIPT means the script did not run, so
 * the repeat cannot apply it twice.
 *
 * Calls issued in the same tick are written to the socket together by node-redis (one pipeline
 * per tick), so `Promise.all` over many calls costs one round trip: bench/probes/redis-client.js
 * measured 50 concurrent callers at the rate of explicit pipelines.
 */
export class ScriptRunner {
  private readonly shas = new Map<LimitScriptName, string>();
  private readonly loading = new Map<LimitScriptName, Promise<string>>();

  constructor(private readonly client: ScriptClient) {}

  /** Load every script (SCRIPT LOAD); called once after connecting. */
  async loadAll(): Promise<void> {
    await Promise.all((Object.keys(LIMIT_SCRIPTS) as LimitScriptName[]).map((name) => this.load(name)));
  }

  /** Run one script; keys first, then arguments, as its header lists them. */
  async run(name: LimitScriptName, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const script: LimitScript = LIMIT_SCRIPTS[name];
    if (script.keys < 0 ? keys.length === 0 : keys.length !== script.keys) throw new Error(`${name} takes ${script.keys} keys, got ${keys.length}`);
    const sha = this.shas.get(name) ?? (await this.load(name));
    try {
      return await this.evalSha(sha, keys, args);
    } catch (error) {
      if (!isNoScript(error)) throw new Error(`Redis limit script ${name} failed: ${messageOf(error)}`, { cause: error });
      return this.evalSha(await this.load(name), keys, args);
    }
  }

  private evalSha(sha: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.client.evalSha(sha, { keys: [...keys], arguments: [...args] });
  }

  /**
   * SCRIPT LOAD, shared by every caller that asks while it runs. (A caller whose NOSCRIPT arrives
   * just after a load finished loads once more: harmless, SCRIPT LOAD of a loaded script is a no-op.)
   */
  private load(name: LimitScriptName): Promise<string> {
    const pending = this.loading.get(name);
    if (pending) return pending;
    const loading = this.client
      .scriptLoad(LIMIT_SCRIPTS[name].lua)
      .then((sha) => {
        this.shas.set(name, sha);
        return sha;
      })
      .finally(() => this.loading.delete(name));
    this.loading.set(name, loading);
    return loading;
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
