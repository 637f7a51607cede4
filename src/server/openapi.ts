/**
 * The OpenAPI 3.1 document, written from the route table and its zod schemas (OpenAPI 3.1
 * uses JSON Schema 2020-12, which is what `z.toJSONSchema` emits).
 */
import { z } from 'zod';
import type { Route } from './route.ts';
import { ErrorBody } from './schemas.ts';

type Json = Record<string, unknown>;

/** Converts a schema, moving its named parts (`.meta({id})`) into shared components. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output', components: Json): Json {
  const raw = JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
  const js = JSON.parse(raw.replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
  delete js.$schema;
  const defs = js.$defs as Json | undefined;
  if (defs) {
    Object.assign(components, defs);
    delete js.$defs;
  }
  return js;
}

const errorRef = { $ref: '#/components/schemas/Error' };
const errorAnswer = (description: string) => ({
  description,
  content: { 'application/json': { schema: errorRef } },
});

/** The document served at `/api/openapi.json`. */
export function openApiDocument(routes: readonly Route[]): Json {
  const components: Json = {};
  schemaOf(ErrorBody, 'output', components);
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const parameters: Json[] = [];
    for (const m of r.path.matchAll(/\{(\w+)\}/g))
      parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (r.query) {
      const q = schemaOf(r.query, 'input', components);
      const required = new Set((q.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((q.properties as Json | undefined) ?? {})) {
        const { description, ...rest } = schema as Json;
        parameters.push({
          name,
          in: 'query',
          required: required.has(name),
          schema: rest,
          ...(description ? { description } : {}),
        });
      }
    }
    const responses: Json = {};
    if (r.stream) {
      responses['200'] = {
        description: 'an event stream',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      };
    } else if (r.response) {
      responses[r.write ? '202' : '200'] = {
        description: r.write ? 'recorded; a scheduler applies it' : 'OK',
        content: { 'application/json': { schema: schemaOf(r.response, 'output', components) } },
      };
    }
    responses['400'] = errorAnswer('the request is malformed; the message says where');
    if (r.path.includes('{')) responses['404'] = errorAnswer('no such flow, run or task');
    if (r.write) {
      responses['401'] = errorAnswer('no bearer token');
      responses['403'] = errorAnswer('wrong token, or the dashboard offers no actions');
      responses['409'] = errorAnswer('the action does not fit the run’s state');
    }
    const operation: Json = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By-$1').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(r.body, 'input', components) } },
            },
          }
        : {}),
      ...(r.write ? { security: [{ bearer: [] }] } : {}),
      responses,
    };
    paths[r.path] = { ...(paths[r.path] ?? {}), [r.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Baton dashboard API',
      version: '0.1.0',
      description:
        'Reads the metadata database; actions are recorded as commands a scheduler applies.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}
