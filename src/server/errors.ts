// Errors are values with codes: one AppError, a closed list of codes mapped to HTTP status,
// one renderer used by the error handler, the 404 handler and the router's own errors.
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { maskKeys } from '../shared/key-mask.js';

export const ERROR_STATUS = {
  invalid: 400,
  not_authenticated: 401,
  insufficient_scope: 403,
  api_keys_not_enabled: 403,
  session_required: 403,
  csrf_failed: 403,
  permission_denied: 403,
  not_found: 404,
  method_not_allowed: 405,
  invalid_state: 409,
  quota_exceeded: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors?: Record<string, string[]>;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, detail: string, opts: { errors?: Record<string, string[]>; headers?: Record<string, string> } = {}) {
    super(detail);
    this.code = code;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what = 'Not found.') => new AppError('not_found', what);
export const invalid = (field: string, message: string) =>
  new AppError('invalid', `${field}: ${message}`, { errors: { [field]: [message] } });

export const ErrorBody = Type.Object(
  {
    detail: Type.String(),
    code: Type.String(),
    errors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  },
  { $id: 'Error', description: 'Every error: a human sentence and a machine code.' },
);

/** Spread into every route's `response` schema (STYLE §6). */
export const errorResponses = {
  400: Type.Ref('Error', { description: 'invalid' }),
  401: Type.Ref('Error', { description: 'not_authenticated' }),
  403: Type.Ref('Error', { description: 'insufficient_scope, session_required, csrf_failed, permission_denied, api_keys_not_enabled' }),
  404: Type.Ref('Error', { description: 'not_found (also for objects out of the caller\'s reach)' }),
  409: Type.Ref('Error', { description: 'invalid_state, quota_exceeded' }),
  415: Type.Ref('Error', { description: 'unsupported_media_type' }),
  429: Type.Ref('Error', { description: 'rate_limited' }),
  503: Type.Ref('Error', { description: 'unavailable' }),
} as const;

interface ValidationItem {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
  keyword?: string;
}

function validationToErrors(items: ValidationItem[], context: string | undefined): Record<string, string[]> {
  // Field names come from the client (an unknown field is named): no prototype for `constructor` to find.
  const errors: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const item of items) {
    // A field the route does not know (spec §8: refused, never dropped), named with its place.
    if (item.keyword === 'additionalProperties' && typeof item.params?.additionalProperty === 'string') {
      const place = (item.instancePath ?? '').split('/').filter(Boolean).join('.');
      const field = place ? `${place}.${item.params.additionalProperty}` : item.params.additionalProperty;
      (errors[field] ??= []).push('is not a field this request takes');
      continue;
    }
    let field = (item.instancePath ?? '').replace(/^\//, '').split('/')[0] ?? '';
    if (!field && item.params && typeof item.params.missingProperty === 'string') field = item.params.missingProperty;
    if (!field) field = context === 'body' ? 'non_field_errors' : context ?? 'request';
    (errors[field] ??= []).push(item.message ?? 'is invalid');
  }
  return errors;
}

function isDbUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  const code = e.code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '53300'].includes(code) ||
    // better-sqlite3 gives SQLite's extended codes (SQLITE_BUSY_SNAPSHOT, _RECOVERY, _TIMEOUT,
    // SQLITE_LOCKED_SHAREDCACHE, …): each means another connection holds the database for now, so
    // the request may succeed when retried; none is a fault of ours (500).
    /^SQLITE_(BUSY|LOCKED)(_[A-Z]+)?$/.test(code) ||
    code.startsWith('08') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '')
  );
}

function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

/** A unique constraint refused a row (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Turns anything thrown into an AppError; unknown errors become `internal`. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError & { validation?: ValidationItem[]; validationContext?: string };
  // A path id that cannot be an id (too long, not a number, out of range) names no object: 404 like
  // any other unknown id, never 400 (issue 16).
  if (fe?.code === 'FST_ERR_MAX_PARAM_LENGTH' || (fe && Array.isArray(fe.validation) && fe.validationContext === 'params')) {
    return new AppError('not_found', 'No such object.');
  }
  if (fe && Array.isArray(fe.validation)) {
    const errors = validationToErrors(fe.validation, fe.validationContext);
    const first = Object.entries(errors)[0];
    const detail = first ? `${first[0]}: ${first[1][0]}` : 'Invalid request.';
    return new AppError('invalid', detail, { errors });
  }
  if (isDbUnavailable(err)) return new AppError('unavailable', 'The database is unavailable; retry later.');
  // PostgreSQL gave up one of two transactions waiting on each other: the object was busy.
  const pgCode = (err as { code?: unknown } | null)?.code;
  if (pgCode === '40P01' || pgCode === '40001') return new AppError('invalid_state', 'The object is busy with another change; retry.');
  // PostgreSQL refuses some strings SQLite stores (a NUL byte): the client's input, not our failure.
  if (isUnstorableText(err)) return new AppError('invalid', 'The request contains a character that cannot be stored, such as a NUL byte.');
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new AppError('unsupported_media_type', 'Send the body as application/json or application/x-www-form-urlencoded.');
      return new AppError('invalid', 'The Content-Length header does not match the body.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid', 'The JSON body is empty.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid', 'The body is not valid JSON.');
    default:
      break;
  }
  if (err instanceof SyntaxError || fe?.code === 'FST_ERR_BAD_URL' || fe?.code === 'FST_ERR_ASYNC_CONSTRAINT') {
    return new AppError('invalid', 'The request is malformed.');
  }
  if (status === 415) return new AppError('unsupported_media_type', 'Send the body as application/json or application/x-www-form-urlencoded.');
  if (status === 413) return new AppError('payload_too_large', 'The request body is too large.');
  if (status >= 400 && status < 500) return new AppError('invalid', 'The request is malformed.');
  return new AppError('internal', 'Something went wrong on our side; the error has been logged.');
}

// A key never appears in an error message (spec §2), even when a message quotes what the client
// sent ("Unknown image …") and the client pasted a key there: only its prefix is kept.

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const appErr = toAppError(err);
  if (appErr.status >= 500) {
    request.log.error({ err, reqId: request.id }, 'request failed');
  }
  if (appErr.headers) reply.headers(appErr.headers);
  const body: { detail: string; code: string; errors?: Record<string, string[]> } = { detail: maskKeys(appErr.message), code: appErr.code };
  if (appErr.errors) body.errors = Object.fromEntries(Object.entries(appErr.errors).map(([field, messages]) => [field, messages.map(maskKeys)]));
  return reply.code(appErr.status).type('application/json; charset=utf-8').send(body);
}
