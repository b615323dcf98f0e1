import type { FileSettingKind, FileSettingRecord, Store } from '../store/store.js';

/** One setting of a file entry: usually one top-level field, sometimes fields that only make sense together. */
export interface Setting {
  name: string;
  fields: readonly string[];
}

/** One setting per field, with `groups` (e.g. a schedule's cron and every) as single settings. */
export function settingsOf(fields: readonly string[], groups: readonly (readonly string[])[] = []): Setting[] {
  const grouped = new Set(groups.flat());
  return [
    ...groups.map((group) => ({ name: group.join('/'), fields: group })),
    ...fields.filter((field) => !grouped.has(field)).map((field) => ({ name: field, fields: [field] })),
  ];
}

/**
 * How sluice.yaml and API changes combine. The file declares; the API edits live. At start, each
 * setting of each file entry (a queue's `url`, a domain limit's `concurrency`, a schedule's
 * `paused` …) is applied only when the file's value differs from the value this node last applied
 * from the file (kept in the store). So a restart with an unchanged file keeps every API change
 * (a pause, a new limit), and an edit of the file still takes effect, setting by setting.
 *
 * An entry that is in the file but not in storage (new, or deleted through the API) is created from
 * the file: the file says it exists. An entry removed from the file stays as storage has it (delete
 * it through the API), and its last-applied values are forgotten, so putting it back applies it anew.
 */
export class FileSettings {
  /** Next set of last-applied values: every entry of the file as it is now. */
  private readonly next: FileSettingRecord[] = [];

  private constructor(private readonly applied: Map<string, string>) {}

  static async load(store: Store): Promise<FileSettings> {
    const applied = new Map<string, string>();
    for (const record of await store.listFileSettings()) applied.set(keyOf(record.kind, record.name, record.setting), record.value);
    return new FileSettings(applied);
  }

  /**
   * The entry to store: `stored` with each setting the file changed since it was last applied taken
   * from `file`, or `file` itself when nothing is stored. `changed` names the settings taken from the
   * file that differ from what was stored (API changes the file overrode), for the log.
   */
  merge<T extends object>(kind: FileSettingKind, name: string, file: T, stored: T | undefined, settings: readonly Setting[]): { value: T; changed: string[] } {
    const value: Record<string, unknown> = { ...((stored ?? file) as Record<string, unknown>) };
    const changed: string[] = [];
    for (const setting of settings) {
      const fileValue = JSON.stringify(pick(file, setting.fields));
      this.next.push({ kind, name, setting: setting.name, value: fileValue });
      if (stored === undefined || this.applied.get(keyOf(kind, name, setting.name)) === fileValue) continue;
      for (const field of setting.fields) {
        const given = (file as Record<string, unknown>)[field];
        if (given === undefined) delete value[field];
        else value[field] = given;
      }
      if (JSON.stringify(pick(stored, setting.fields)) !== fileValue) changed.push(setting.name);
    }
    return { value: value as T, changed };
  }

  /** Remember what was applied at this start (entries no longer in the file are forgotten). */
  async save(store: Store): Promise<void> {
    await store.replaceFileSettings(this.next);
  }
}

function keyOf(kind: string, name: string, setting: string): string {
  return `${kind}\u0000${name}\u0000${setting}`;
}

/** The named fields of an entry, in the given order, absent ones left out (so JSON compares them). */
function pick(entry: object, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) {
    const value = (entry as Record<string, unknown>)[field];
    if (value !== undefined) picked[field] = value;
  }
  return picked;
}
