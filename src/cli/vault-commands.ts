import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { SluiceClient } from '../client/client.js';
import type { TemplateInput } from '../client/types.js';

/** What these commands borrow from the rest of the CLI (client-commands.ts). */
export interface CliTools {
  connected: (command: Command) => Command;
  client: (options: { url?: string; key?: string }) => SluiceClient;
  print: (value: unknown) => void;
  readDocument: (file: string) => unknown;
}

/**
 * `sluice secrets put|list|delete|rotate-key` and `sluice templates list|get|put|delete`. A secret's
 * value is never an argument (the shell's history and `ps` would show it): it is read from standard
 * input, a file, or an environment variable.
 */
export function registerVaultCommands(program: Command, { connected, client, print, readDocument }: CliTools): void {
  const tenant = (options: { tenant?: string }) => (options.tenant ? { tenant: options.tenant } : {});

  const secrets = program.command('secrets').description("the vault: each tenant's secrets, for templates, signing and verifying");
  connected(secrets.command('put <name>'))
    .description('store a secret (or replace it) read from standard input, --from-file or --from-env; it is never shown again')
    .option('--from-file <file>', 'read the value from this file (one trailing newline is dropped)')
    .option('--from-env <variable>', 'read the value from this environment variable')
    .option('--tenant <tenant>', 'the owner (admin key; default: default)')
    .action(async (name: string, options) => {
      const value = await secretValue(options);
      await client(options).putSecret(name, value, tenant(options));
      print({ name, stored: true });
    });
  connected(secrets.command('list'))
    .description('list secrets: names and times, never values')
    .option('--tenant <tenant>', "one tenant's (admin key)")
    .action(async (options) => print(await client(options).listSecrets(tenant(options))));
  connected(secrets.command('delete <name>'))
    .description('delete a secret: messages waiting for it go to dead when their time comes')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => {
      await client(options).deleteSecret(name, tenant(options));
      print({ name, deleted: true });
    });
  connected(secrets.command('rotate-key'))
    .description(
      're-seal every secret under the current vault key (admin key). A key file in the data dir: a new key is made. SLUICE_SECRET_KEY: set the new key there and the old one in SLUICE_SECRET_KEY_PREVIOUS on every node first',
    )
    .action(async (options) => print(await client(options).rotateSecretKey()));

  const templates = program.command('templates').description('webhooks defined once, with {{ vars.… }} and {{ secrets.… }}');
  connected(templates.command('list'))
    .description('list templates')
    .option('--tenant <tenant>', "one tenant's (admin key)")
    .action(async (options) => print(await client(options).listTemplates(tenant(options))));
  connected(templates.command('get <name>'))
    .description('one template, with the variables and secrets it uses')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => print(await client(options).getTemplate(name, tenant(options))));
  connected(templates.command('put <name>'))
    .description('create or replace a template from a file (JSON or YAML: url, method, headers, body, queue, retry, priority)')
    .requiredOption('-f, --file <file>', 'the template')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => print(await client(options).putTemplate(name, readDocument(options.file) as TemplateInput, tenant(options))));
  connected(templates.command('delete <name>'))
    .description('delete a template')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => {
      await client(options).deleteTemplate(name, tenant(options));
      print({ name, deleted: true });
    });
}

async function secretValue(options: { fromFile?: string; fromEnv?: string }): Promise<string> {
  if (options.fromFile !== undefined && options.fromEnv !== undefined) throw new InvalidArgumentError('give --from-file or --from-env, not both');
  if (options.fromEnv !== undefined) {
    const value = process.env[options.fromEnv];
    if (value === undefined || value === '') throw new InvalidArgumentError(`environment variable ${options.fromEnv} is not set`);
    return value;
  }
  const text = options.fromFile !== undefined ? readFileSync(options.fromFile, 'utf8') : await readStdin();
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new InvalidArgumentError('the secret is empty');
  return value;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('value (end with Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `--var user.email=a@b.c` (a string) and `--var-json user.age=42` (any JSON) as the `vars` of a
 * message made from a template: dotted paths make nested objects.
 */
export function templateVars(strings: string[] = [], json: string[] = []): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const set = (assignment: string, parse: (text: string) => unknown) => {
    const equals = assignment.indexOf('=');
    if (equals <= 0) throw new InvalidArgumentError(`a variable looks like path.to.name=value, got ${assignment}`);
    const path = assignment.slice(0, equals).split('.');
    if (path.some((segment) => segment === '')) throw new InvalidArgumentError(`not a variable path: ${assignment.slice(0, equals)}`);
    let target = vars;
    for (const segment of path.slice(0, -1)) {
      const next = Object.hasOwn(target, segment) ? target[segment] : undefined;
      if (typeof next !== 'object' || next === null || Array.isArray(next)) define(target, segment, {});
      target = target[segment] as Record<string, unknown>;
    }
    define(target, path.at(-1)!, parse(assignment.slice(equals + 1)));
  };
  for (const assignment of strings) set(assignment, (text) => text);
  for (const assignment of json) {
    set(assignment, (text) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new InvalidArgumentError(`--var-json ${assignment}: the value is not JSON`);
      }
    });
  }
  return vars;
}

/** An own property, whatever its name (`__proto__` included). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
