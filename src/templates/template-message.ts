import { z } from 'zod';
import { headerMapSchema, nameSchema, templateVarsSchema } from '../config/schema.js';
import { SluiceError } from '../http/errors.js';
import { outboundMessageSchema, resolveDeliverAt, toNewMessage, type OutboundDeps, type OutboundMessage } from '../queues/outbound-message.js';
import type { SecretVault } from '../secrets/vault.js';
import type { NewMessage } from '../store/types.js';
import type { TemplateConfig } from '../config/schema.js';
import { renderTemplate, type RenderProblem, type RenderScope } from './render.js';
import { placeSecrets } from './secret-slots.js';
import type { TemplateCatalog } from './template-catalog.js';

/**
 * One outbound webhook made from a template: `POST /v1/messages` and the batch with `template` and
 * `vars`, and schedules whose message names a template. The variables are filled now (every
 * missing one is a 400 naming it); the secrets when the message is sent (secret-slots.ts), so a
 * rotated secret reaches messages already waiting and no stored message holds a secret's value.
 */

const { deliverAt, delayMs, idempotencyKey, priority } = outboundMessageSchema.shape;

/** A message made from a template, as the API takes it. */
export const templateMessageSchema = z
  .object({
    template: nameSchema.meta({ description: "A template of the caller's tenant" }),
    vars: templateVarsSchema.optional(),
    deliverAt,
    delayMs,
    idempotencyKey,
    priority: priority.meta({ description: "0 (least urgent) to 9 (most urgent); absent: the template's, else the queue's" }),
  })
  .strict()
  .refine((m) => m.deliverAt === undefined || m.delayMs === undefined, { message: 'give deliverAt or delayMs, not both', path: ['delayMs'] })
  .meta({ not: { required: ['deliverAt', 'delayMs'] } });
export type TemplateMessage = z.infer<typeof templateMessageSchema>;

/** What making a message from a template reads: the templates, the vault (which secrets exist), the queues and the target checks. */
export interface TemplateMessageDeps extends OutboundDeps {
  readonly templates: Pick<TemplateCatalog, 'get'>;
  readonly vault: Pick<SecretVault, 'has'>;
}

/**
 * The stored message for `input` in `tenant`. `at` prefixes field names in errors (`messages.3.`);
 * `defaults.queue` is the queue when the template names none (else the tenant's default queue).
 * Errors name the input's fields (`vars.user.email`, `deliverAt`), the secrets that are missing
 * (`secrets.api_token`), or the template's own fields as rendered (`template.url`, `template.headers.x-a`).
 */
export function templateMessage(app: TemplateMessageDeps, tenant: string, input: TemplateMessage, at: string, defaults: { queue?: string } = {}): NewMessage {
  const entry = app.templates.get(tenant, input.template);
  if (!entry) throw invalid([{ field: `${at}template`, message: `no template named ${input.template} in tenant ${tenant}` }]);
  const config = { ...entry.config, queue: entry.config.queue ?? defaults.queue };
  return renderedMessage(app, tenant, config, { vars: input.vars ?? {} }, input, { at, template: `${at}template.` });
}

/** When and how a rendered message is sent: the parts of a template message that are not the template. */
export type RenderedMessageOptions = Pick<TemplateMessage, 'deliverAt' | 'delayMs' | 'idempotencyKey' | 'priority'>;

/**
 * The stored message a template renders to with `scope` (`vars`, and `steps` for a workflow step),
 * in `tenant`. Errors name fields under `names.at` for variables (`vars.user.email`) and secrets,
 * under `names.template` for the template's own fields as rendered (`template.url`).
 */
export function renderedMessage(
  app: Omit<TemplateMessageDeps, 'templates'>,
  tenant: string,
  config: TemplateConfig,
  scope: RenderScope,
  input: RenderedMessageOptions,
  names: { at: string; template: string },
): NewMessage {
  const { at } = names;
  const result = renderTemplate(config, scope);
  const fieldOf = (field: string): string => (field.startsWith('vars.') || field.startsWith('steps.') ? `${at}${field}` : `${names.template}${field}`);
  const problems: RenderProblem[] = result.ok ? [] : result.problems.map((problem) => ({ ...problem, field: fieldOf(problem.field) }));
  if (!result.ok) throw invalid(problems);
  const { rendered } = result;
  for (const name of rendered.secrets.names) {
    if (!app.vault.has(tenant, name)) problems.push({ field: `${at}secrets.${name}`, message: `no such secret in the vault of tenant ${tenant}` });
  }
  const headers = headerMapSchema.safeParse(rendered.headers);
  if (!headers.success) for (const issue of headers.error.issues) problems.push({ field: `${at}template.headers.${issue.path.join('.')}`, message: issue.message });
  if (problems.length > 0) throw invalid(problems);
  resolveDeliverAt(input, app.clock.now(), at);
  const outbound: OutboundMessage = {
    method: rendered.method,
    headers: headers.data!,
    url: rendered.url,
    body: rendered.body,
    queue: config.queue,
    retry: config.retry,
    priority: input.priority ?? config.priority,
    deliverAt: input.deliverAt,
    delayMs: input.delayMs,
    idempotencyKey: input.idempotencyKey,
  };
  const message = toNewMessage(app, { kind: 'tenant', tenant }, outbound, names.template);
  if (message.url !== undefined && secretInOrigin(message.url, rendered.secrets.nonce)) {
    throw invalid([{ field: `${names.template}url`, message: "a secret may not stand in the URL's scheme, host or port" }]);
  }
  return placeSecrets(message, rendered.secrets, rendered.bodyIsText);
}

/** After the variables went in, a sentinel must still be out of the origin (a variable cannot move it there). */
function secretInOrigin(url: string, nonce: string): boolean {
  const parsed = new URL(url);
  return [parsed.protocol, parsed.username, parsed.password, parsed.host].some((part) => part.includes(nonce));
}

function invalid(problems: RenderProblem[]): SluiceError {
  const first = problems[0]!;
  return new SluiceError('SLUICE_ERR_VALIDATION', `${first.field}: ${first.message}`, { extra: { errors: problems } });
}
