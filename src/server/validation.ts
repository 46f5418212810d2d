// Request validation. One TypeBox schema validates, types and documents each part of a request.
// Query strings and form bodies arrive as strings and are coerced to the schema's types; a JSON
// body must already have the right types (`"storage": true` is not a size).
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: true,
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
  const fn: ValidateFunction = (httpPart === 'body' ? strictAjv : coercingAjv).compile(rest);
  return fn as never;
};

interface JsonSchemaLike {
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
    if (types.includes('array')) {
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
