/**
 * Keeping one node's memory of the catalog in step with a database other nodes change too.
 *
 * Each node reads queues, sources, tenants, keys, limits, schedules, the vault's sealed secrets and
 * templates into memory at start and serves them from there. When another node changes one of them, this node hears the kind of change
 * (how it hears it is not this file's business) and re-reads that part from the store: CatalogSync
 * does the re-reading, one pass at a time. The parts it refreshes are handed in, typed as the few methods it
 * calls, so this file depends on no storage backend and on no composition root.
 */
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { Authenticator } from '../http/auth.js';
import type { Logger } from '../observe/logger.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { SourceCatalog } from '../routing/source-catalog.js';
import type { ScheduleRunner } from '../scheduler/schedule-runner.js';
import type { SecretVault } from '../secrets/vault.js';
import type { TemplateCatalog } from '../templates/template-catalog.js';
import type { WorkflowCatalog } from '../workflows/runner.js';
import type { Store } from '../store/store.js';
import { CATALOG_KINDS, type CatalogKind } from '../store/cluster.js';

export type { CatalogKind } from '../store/cluster.js';

/**
 * What CatalogSync reads and refreshes. Read at each pass, not once: the node may create its
 * dispatcher and schedule runner after handing these over.
 */
export interface CatalogSyncDeps {
  readonly store: Pick<Store, 'listTenants' | 'listApiKeys' | 'listDomainLimits'>;
  readonly queues: Pick<QueueRegistry, 'reload' | 'replaceTenantQuotas'>;
  readonly auth: Pick<Authenticator, 'replaceTenantKeys'>;
  readonly dispatcher: Pick<Dispatcher, 'replaceDomainLimits' | 'replaceTenantLimits'> | undefined;
  readonly schedules: Pick<ScheduleRunner, 'reload'> | undefined;
  /** Sources made through the API; absent: this node keeps none (sluice.yaml's only). */
  readonly sourceCatalog?: Pick<SourceCatalog, 'reload'>;
  /** The vault's sealed secrets; absent while the node starts. */
  readonly vault?: Pick<SecretVault, 'reload'> | undefined;
  /** Templates made through the API. */
  readonly templates?: Pick<TemplateCatalog, 'reload'>;
  /** Workflows made through the API. */
  readonly workflows?: { readonly catalog: Pick<WorkflowCatalog, 'reload'> };
  readonly logger: Logger;
}

/**
 * Re-reads the parts of the catalog named to it and hands them to the parts of the node that hold
 * them in memory. Reloads never overlap: kinds asked for while a pass runs are gathered and reloaded
 * together in one more pass after it, so a burst of notifications costs at most two passes. A kind
 * whose reload failed (storage unreachable) is logged and reloaded again with the next call.
 *
 * A node should also reload after its own catalog changes (hearing its own notifications will do):
 * a pass whose read started before a change made here committed may put the older row back in
 * memory, and only a later pass puts it right.
 *
 * @example
 * const sync = new CatalogSync(node);
 * onNotification((payload) => { if (isCatalogKind(payload)) void sync.reload([payload]); });
 * onReconnect(() => void sync.reloadAll()); // notifications sent while away are lost
 */
export class CatalogSync {
  private readonly pending = new Set<CatalogKind>();
  /** Kinds whose last reload failed: added to the next call's. */
  private readonly failed = new Set<CatalogKind>();
  private running: Promise<void> | undefined;

  constructor(private readonly deps: CatalogSyncDeps) {}

  /**
   * Reload these kinds, and with them any whose reload failed before. Resolves once they are
   * reloaded, or once their reload failed and was logged: it never rejects.
   */
  reload(kinds: Iterable<CatalogKind>): Promise<void> {
    for (const kind of kinds) this.pending.add(kind);
    this.running ??= this.drain();
    return this.running;
  }

  /** Reload every kind: after a lost connection, when notifications may have been missed. */
  reloadAll(): Promise<void> {
    return this.reload(CATALOG_KINDS);
  }

  /** Passes until nothing is pending; `running` is cleared in the same turn as the last check, so no request is left behind. */
  private async drain(): Promise<void> {
    // Yield first: `running` must be set before this can end, even when there is nothing to do.
    await Promise.resolve();
    try {
      while (this.pending.size > 0) {
        // Only along with a request: retrying on its own would spin while storage is down.
        for (const kind of this.failed) this.pending.add(kind);
        this.failed.clear();
        const kinds = CATALOG_KINDS.filter((kind) => this.pending.has(kind));
        this.pending.clear();
        for (const kind of kinds) await this.reloadKind(kind);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async reloadKind(kind: CatalogKind): Promise<void> {
    try {
      await this.read(kind);
    } catch (error) {
      this.failed.add(kind);
      this.deps.logger.warn('catalog reload failed; it is retried with the next one', { kind, error: String(error) });
    }
  }

  private async read(kind: CatalogKind): Promise<void> {
    const { store, queues, auth, dispatcher, schedules, sourceCatalog, vault, templates, workflows } = this.deps;
    switch (kind) {
      case 'queues':
        return this.reportUnreadable(kind, await queues.reload());
      case 'sources':
        if (sourceCatalog) this.reportUnreadable(kind, await sourceCatalog.reload());
        return;
      case 'tenants': {
        const tenants = await store.listTenants();
        queues.replaceTenantQuotas(tenants);
        dispatcher?.replaceTenantLimits(tenants);
        return;
      }
      case 'keys':
        return auth.replaceTenantKeys(await store.listApiKeys());
      case 'limits':
        if (dispatcher) dispatcher.replaceDomainLimits(await store.listDomainLimits());
        return;
      case 'schedules':
        if (schedules) this.reportUnreadable(kind, await schedules.reload());
        return;
      case 'secrets':
        if (vault) this.reportUnreadable(kind, await vault.reload());
        return;
      case 'templates':
        if (templates) this.reportUnreadable(kind, await templates.reload());
        return;
      case 'workflows':
        if (workflows) this.reportUnreadable(kind, await workflows.catalog.reload());
        return;
    }
  }

  /** Rows this version cannot read stay as they were in memory; retrying will not help, so no retry. */
  private reportUnreadable(kind: CatalogKind, errors: Error[]): void {
    for (const error of errors) this.deps.logger.warn('stored row left as it was: this version cannot read it', { kind, error: error.message });
  }
}
