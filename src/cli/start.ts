import { loadConfig, ConfigError, type ConfigOverrides } from '../config/loader.js';
import { Sluice } from '../sluice.js';

/**
 * `sluice start`: load configuration, start the gateway, and stop gracefully on SIGTERM/SIGINT
 * (stop accepting, finish the commit in progress and answer it, close the database cleanly).
 */
export async function runStart(overrides: ConfigOverrides): Promise<void> {
  let app: Sluice;
  try {
    app = await Sluice.start({ loaded: loadConfig(overrides), onFatal: () => (process.exitCode = 1) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sluice: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`Sluice is listening on ${app.url}  (dashboard: ${app.url}/dashboard)\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info('stopping', { signal });
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error('stop failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
