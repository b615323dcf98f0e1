import { closeSync, fdatasync, openSync } from 'node:fs';

/**
 * Makes WAL commits durable without blocking the event loop.
 *
 * The connection runs with synchronous=NORMAL: a commit writes its WAL frames (into the OS page
 * cache: safe from a crash of the process) and returns at once. Whoever must not answer before the
 * data is on disk then awaits `sync()`, which fsyncs the WAL file on libuv's thread pool. Commits
 * made while one fsync runs share the next one — group commit at the disk — so the event loop keeps
 * parsing requests while the disk works, instead of sitting in fsync inside COMMIT.
 *
 * Why this is as durable as synchronous=FULL for what we acknowledge: every frame of a commit is
 * written before `sync()` is called, and the fsync that answers the caller starts after that. A
 * checkpoint that moved those frames into the database file in between syncs the database file
 * itself before the WAL can be reused.
 */
export class WalSync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly walPath: string) {}

  /** Resolves once everything committed before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The running fsync may have started before our commit: wait for the next one.
    this.queued ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private startQueued(): Promise<void> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    this.fd ??= openSync(this.walPath, 'r');
    const fd = this.fd;
    const run = new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
    this.running = run;
    void run.then(
      () => this.finished(run),
      () => this.finished(run),
    );
    return run;
  }

  private finished(run: Promise<void>): void {
    if (this.running === run) this.running = undefined;
  }
}
