/**
 * Request validation: bodies are checked strictly (no type coercion, unknown fields
 * rejected, nothing removed), while querystring, params and headers are coerced
 * from their string form. Fastify's default Ajv would coerce and silently strip body
 * fields, which hides client mistakes.
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { ValidationIssue } from '../schemas/common.js';

function makeAjv(coerceTypes: boolean | 'array') {
  // ajv and ajv-formats are CJS; their default export is the constructor/function.
  const ajv = new Ajv.default({ coerceTypes, useDefaults: false, removeAdditional: false, allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv;
}

export function validatorCompiler(): FastifySchemaCompiler<object> {
  const strict = makeAjv(false);
  const lenient = makeAjv('array');
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema);
}

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'header' };

/** Ajv errors as `{ field, message }`, with fields like `body/holdMs` or `query/limit`. */
export function validationIssues(errors: readonly Partial<ErrorObject>[], context: string | undefined): ValidationIssue[] {
  const part = PART[context ?? ''] ?? context ?? 'request';
  return errors.map((e) => {
    const path = (e.instancePath ?? '').replace(/^\//, '');
    const params = (e.params ?? {}) as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      return { field: [part, path, String(params['additionalProperty'])].filter(Boolean).join('/'), message: 'is not a known field' };
    }
    if (e.keyword === 'required') {
      return { field: [part, path, String(params['missingProperty'])].filter(Boolean).join('/'), message: 'is required' };
    }
    return { field: [part, path].filter(Boolean).join('/'), message: e.message ?? 'is invalid' };
  });
}
