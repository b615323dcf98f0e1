#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { registerClientCommands } from './client-commands.js';

/**
 * The `sluice` command. `start` runs the gateway; the rest are thin clients of the HTTP API.
 */
const program = new Command();
program.name('sluice').description('Self-hosted webhook traffic guard').version(VERSION);

program
  .command('start')
  .description('run the gateway (embedded SQLite in ./data with no configuration at all)')
  .option('-c, --config <file>', 'sluice.yaml to load (default: ./sluice.yaml when present, or SLUICE_CONFIG)')
  .option('--host <host>', 'address to listen on (default 127.0.0.1, or SLUICE_HOST)')
  .option('-p, --port <port>', 'port to listen on (default 7070, or SLUICE_PORT)', parsePort)
  .option('-d, --data-dir <dir>', 'where the database and generated admin key live (default ./data, or SLUICE_DATA_DIR)')
  .action(async (options: { config?: string; host?: string; port?: number; dataDir?: string }) => {
    const { runStart } = await import('./start.js');
    await runStart({ configPath: options.config, host: options.host, port: options.port, dataDir: options.dataDir });
  });

registerClientCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError('not a port number');
  return port;
}
