/**
 * The four routes every kind of named object has — PUT (open or create), GET of the
 * list, GET of one, DELETE (close) — from one description of the kind, so the kinds
 * answer alike. A kind's own routes (abandon, set, reset) are registered beside them,
 * in the kind's plugin.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { problemResponses } from '../http/openapi.js';
import { emptyBodyAsObject } from '../http/optional-body.js';
import { normaliseName } from '../mutex/names.js';
import type { ObjectKind, ObjectKindNames } from '../objects/object-kinds.js';
import { ObjectListQuery, ObjectNameParams } from '../schemas/named-object.js';

type App = Parameters<FastifyPluginAsyncTypebox>[0];

/** What the routes call on a kind's registry. */
export interface ObjectRoutesRegistry<R, V, Body> {
  open(name: string, body: Body): { record: R; created: boolean };
  require(name: string): R;
  view(record: R): V;
  list(limit: number, cursor: string | undefined): { items: V[]; nextCursor: string | null };
  close(name: string): V | void;
}

export interface ObjectRoutesKind<R, V, Body> extends ObjectKindNames {
  /** The view's schema $id (`EventObject`; its list's is `EventObjectList`) and the plural in operation ids (`EventObjects`). */
  readonly schemaId: string;
  readonly schemaIdPlural: string;
  /** The PUT body's schema; none: PUT takes no body. */
  readonly openBody?: TSchema;
  readonly descriptions: { readonly open: string; readonly get?: string; readonly close: string };
  /** DELETE answers 200 with the object as it was (mutexes), or 204 with nothing. */
  readonly closeAnswers: 'object' | 'nothing';
  readonly registry: ObjectRoutesRegistry<R, V, Body>;
}

/** A name from the path, normalised, or a 400 naming `params/name`. */
export const nameParam = (raw: string, kind: ObjectKind): string => normaliseName(raw, 'params/name', kind);

export function registerObjectRoutes<R, V, Body>(app: App, object: ObjectRoutesKind<R, V, Body>): void {
  const { kind, plural, path, schemaId, schemaIdPlural, openBody, descriptions, registry } = object;
  const tags = [object.tag];
  const ref = Type.Ref(schemaId);
  const nameOf = (raw: string) => nameParam(raw, kind);

  app.put(`${path}/:name`, {
    schema: {
      operationId: `open${schemaId}`, tags, summary: `Open or create a named ${kind}`, description: descriptions.open,
      params: ObjectNameParams,
      ...(openBody === undefined ? {} : { body: openBody }),
      response: { 200: ref, 201: ref, ...problemResponses(400, 403, 409, ...(openBody === undefined ? [] : [415]), 429) },
    },
    ...(openBody === undefined ? {} : { preValidation: emptyBodyAsObject }),
  }, async (req, reply) => {
    // Body: what openBody's schema validated (undefined when the kind's PUT takes none).
    const { record, created } = registry.open(nameOf(req.params.name), req.body as Body);
    // The contract: an answer for an object that was already there says so (`existed: true`).
    const view = registry.view(record);
    return reply.code(created ? 201 : 200).send(created ? view : { ...view, existed: true });
  });

  app.get(path, {
    schema: { operationId: `list${schemaIdPlural}`, tags, summary: `List open ${plural}`, querystring: ObjectListQuery, response: { 200: Type.Ref(`${schemaId}List`), ...problemResponses(400) } },
  }, async (req) => registry.list(req.query.limit ?? 100, req.query.cursor));

  app.get(`${path}/:name`, {
    schema: {
      operationId: `get${schemaId}`, tags, summary: `Live state of an open ${kind}`,
      ...(descriptions.get === undefined ? {} : { description: descriptions.get }),
      params: ObjectNameParams, response: { 200: ref, ...problemResponses(400, 404) },
    },
  }, async (req) => registry.view(registry.require(nameOf(req.params.name))));

  const closed = object.closeAnswers === 'object' ? { 200: ref } : { 204: { description: 'Closed', type: 'null' } };
  app.delete(`${path}/:name`, {
    schema: {
      operationId: `close${schemaId}`, tags, summary: 'Close the handle', description: descriptions.close,
      params: ObjectNameParams, response: { ...closed, ...problemResponses(400, 404, 409) },
    },
  }, async (req, reply) => {
    const view = registry.close(nameOf(req.params.name));
    if (object.closeAnswers === 'object') return view;
    // 204 has no body (RFC 9110 15.3.5): send nothing, not a serialised null.
    return (reply as FastifyReply).code(204).send();
  });
}
