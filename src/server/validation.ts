// Request validation. One TypeBox schema validates, types and documents each part of a request.
// Query strings and form bodies arrive as strings and are coerced to the schema's types; a JSON
// body must already have the right types (`"storage": true` is not a size). A body field the
// route does not know is refused (400 naming it), never dropped (spec §8): what a caller sends is
// either used or refused.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    // Query strings: a parameter the route does not read is ignored, as on the web at large.
    removeAdditional: coerce,
    allErrors: true,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

const strictAjv = makeAjv(false);
const coercingAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  // Each route is registered twice (/api and /portal/api): compile a copy without its $id, which
  // Ajv would otherwise refuse to see a second time. The $id still names the OpenAPI component.
  const { $id: _id, ...rest } = schema as { $id?: string };
  const fn: ValidateFunction = httpPart === 'body' ? strictAjv.compile(closed(rest)) : coercingAjv.compile(rest);
  return fn as never;
};

/**
 * The schema with `additionalProperties: false` on every object that does not say otherwise, so
 * that an unknown body field is an error naming it (Ajv: `additionalProperty`) on every route,
 * without each schema having to remember it.
 */
export function closed<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(closed) as T;
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    // `properties` maps names to schemas; `enum`/`const`/`default` hold values, not schemas.
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, closed(sub)]));
    } else if (key === 'items' || key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
      out[key] = closed(value);
    } else {
      out[key] = value;
    }
  }
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined && out.patternProperties === undefined) out.additionalProperties = false;
  return out as T;
}

export interface JsonSchemaLike {
  type?: string | string[];
  properties?: Record<string, JsonSchemaLike>;
  items?: JsonSchemaLike;
  anyOf?: JsonSchemaLike[];
}

function typesOf(s: JsonSchemaLike | undefined): string[] {
  if (!s) return [];
  if (s.anyOf) return s.anyOf.flatMap(typesOf);
  return Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
}

function coerceScalar(value: string, types: string[]): unknown {
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  if (types.includes('boolean')) {
    const v = value.trim().toLowerCase();
    if (['true', '1', 'on', 'yes'].includes(v)) return true;
    if (['false', '0', 'off', 'no', ''].includes(v)) return false;
  }
  if (types.includes('null') && value === '') return null;
  return value;
}

/**
 * Coerces a parsed form body (string values, arrays for repeated fields) to the types of the
 * route's body schema, so that `storage=10` is the number 10 and a single `scopes=a` an array.
 * Values that do not convert are left as they are, and validation then rejects them.
 */
export function coerceFormBody(body: Record<string, unknown>, schema: JsonSchemaLike | undefined): Record<string, unknown> {
  if (!schema?.properties) return body;
  const out: Record<string, unknown> = { ...body };
  for (const [name, prop] of Object.entries(schema.properties)) {
    const value = out[name];
    if (value === undefined) continue;
    const types = typesOf(prop);
    if (types.includes('object') && value && typeof value === 'object' && !Array.isArray(value)) {
      // A group of dotted fields (foldDottedFields), coerced field by field.
      out[name] = coerceFormBody(value as Record<string, unknown>, prop);
    } else if (types.includes('array')) {
      const list = Array.isArray(value) ? value : [value];
      out[name] = list.map((v) => (typeof v === 'string' ? coerceScalar(v, typesOf(prop.items)) : v));
    } else if (Array.isArray(value)) {
      // A repeated field where one value is expected: keep the last, as most form handlers do.
      const last = value[value.length - 1];
      out[name] = typeof last === 'string' ? coerceScalar(last, types) : last;
    } else if (typeof value === 'string') {
      out[name] = coerceScalar(value, types);
    }
  }
  return out;
}

/**
 * Dotted fields (`research_environment_backend.template=rstudio`, as SimpleVM's form posts send
 * them) gathered into the object the schema has under that name. A dotted field whose first part
 * names no object of the schema stays as it is, and validation then refuses it as unknown.
 */
export function foldDottedFields(body: Record<string, unknown>, schema: JsonSchemaLike | undefined): Record<string, unknown> {
  if (!schema?.properties) return body;
  let out: Record<string, unknown> | null = null;
  for (const [key, value] of Object.entries(body)) {
    const dot = key.indexOf('.');
    if (dot <= 0) continue;
    const group = key.slice(0, dot);
    if (!typesOf(schema.properties[group]).includes('object')) continue;
    out ??= { ...body };
    const inner = out[group] ?? {};
    // The same object sent both ways: left for validation to refuse.
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) continue;
    out[group] = { ...inner, [key.slice(dot + 1)]: value };
    delete out[key];
  }
  return out ?? body;
}
