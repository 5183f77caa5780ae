import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import { ErrorBody } from './errors';
import { apiRoutes, type RouteSpec } from './routes';

function operation(route: RouteSpec): ZodOpenApiOperationObject {
  const responses: Record<`${1 | 2 | 3 | 4 | 5}${string}`, ZodOpenApiResponseObject> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const schema = spec.schema ?? (Number(status) >= 400 ? ErrorBody : undefined);
    responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: spec.description,
      ...(schema ? { content: { 'application/json': { schema } } } : {}),
      ...(spec.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
            ),
          }
        : {}),
    };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.auth === 'none' ? {} : { security: route.auth === 'required' ? [{ bearer: [] }] : [{ bearer: [] }, {}] }),
    ...(route.query || route.params
      ? { requestParams: { ...(route.query ? { query: route.query } : {}), ...(route.params ? { path: route.params } : {}) } }
      : {}),
    ...(route.body ? { requestBody: { required: true, content: { [route.body.contentType]: { schema: route.body.schema } } } } : {}),
    responses,
  };
}

export type OpenApiDocument = ReturnType<typeof createDocument>;

/** The OpenAPI 3.1 document, generated from the same schemas that validate requests. */
export function buildOpenApiDocument(options: { version: string; serverUrl?: string }): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of apiRoutes) {
    const item = (paths[route.path] ??= {});
    (item as Record<string, ZodOpenApiOperationObject>)[route.method.toLowerCase()] = operation(route);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'ANB Rising Stars Showcase API',
      version: options.version,
      description:
        'Players sign up, upload skill videos that the platform processes and publishes, and the public votes. ' +
        'Every error has the shape `{message, code, errors?, request_id}`. Responses carry `x-request-id` and `traceparent`.',
    },
    servers: [{ url: options.serverUrl ?? '/' }],
    tags: [
      { name: 'Health' },
      { name: 'Auth', description: 'Signup, login and token keys' },
      { name: 'Videos', description: "The player's own videos (JWT)" },
      { name: 'Public', description: 'The public showcase, votes and rankings' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  });
}
