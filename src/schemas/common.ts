import { Type, type Static, type TSchema } from 'typebox';
import { PROBLEM_TYPES, problemType, type ProblemSlug } from './problem-types.js';

const PROBLEM_SLUGS = Object.keys(PROBLEM_TYPES) as ProblemSlug[];

/** RFC 9457 problem details, plus `errors[]` for validation failures. */
export const ValidationIssue = Type.Object({
  field: Type.String({ description: 'Where: body/acquireTimeoutMs, query/limit, params/name, header/idempotency-key …' }),
  message: Type.String(),
}, { $id: 'ValidationIssue' });
export type ValidationIssue = Static<typeof ValidationIssue>;

export const Problem = Type.Object({
  type: Type.String({
    enum: PROBLEM_SLUGS.map(problemType),
    description: `The kind of problem:\n${PROBLEM_SLUGS.map((slug) => `- \`${problemType(slug)}\` (${PROBLEM_TYPES[slug][0]}): ${PROBLEM_TYPES[slug][1]}`).join('\n')}`,
  }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Ref('ValidationIssue'))),
  limit: Type.Optional(Type.String({ description: 'The configuration limit that was hit' })),
}, { $id: 'Problem', additionalProperties: true });
export type ProblemBody = Static<typeof Problem, { ValidationIssue: typeof ValidationIssue }>;

export const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const Nanos = Type.Union([Type.String({ pattern: '^[0-9]+$', description: 'Engine monotonic clock, nanoseconds, as a decimal string' }), Type.Null()]);

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'nextCursor of the previous page' })),
};

export const listOf = <T extends TSchema>(item: T, id: string) => Type.Object({
  items: Type.Array(item),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
}, { $id: id });
