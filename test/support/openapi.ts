import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** What the tests read of the document. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

export interface Operation {
  operationId: string;
  security: Record<string, string[]>[];
  'x-sluice-auth': string;
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema?: Record<string, unknown> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}

const DOCUMENT_ID = 'https://sluice.test/openapi.json';

/**
 * Checks bodies against the schemas of one OpenAPI document, with its `$ref`s to components
 * resolved: a schema is compiled at its place in the document (a JSON pointer), not copied out.
 */
export class DocumentSchemas {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  }

  /** The validator of the schema at `pointer` (segments, unescaped). */
  at(...segments: string[]): ValidateFunction {
    const pointer = segments.map((segment) => segment.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.getSchema(`${DOCUMENT_ID}#/${pointer}`);
      if (!validate) throw new Error(`no schema at #/${pointer}`);
      this.compiled.set(pointer, validate);
    }
    return validate;
  }

  /** The document's path template and operation for a concrete request path, e.g. `/v1/queues/jobs/dead`. */
  operationFor(method: string, path: string): { template: string; operation: Operation } | undefined {
    const candidates = Object.keys(this.document.paths)
      .filter((template) => this.document.paths[template]![method.toLowerCase()])
      // A literal segment beats a parameter: /v1/messages/batch is not /v1/messages/{id}.
      .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    for (const template of candidates) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      if (pattern.test(path)) return { template, operation: this.document.paths[template]![method.toLowerCase()]! };
    }
    return undefined;
  }
}

/** Readable ajv errors for an assertion message. */
export function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((error) => `${error.instancePath || '(root)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`).join('; ');
}
