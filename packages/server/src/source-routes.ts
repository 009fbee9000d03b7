/**
 * `GET /api/sources` (each configured source: broker, state, counts, in flight, backlog, rates) and
 * `POST /api/sources/:name/messages` (publish one message to a source whose config says `publish: true`: the
 * dashboard's form, the demo).
 */
import type { FastifyInstance } from 'fastify';
import { quoted, RequestError } from 'sideloop/remote';
import type { SourceSet } from './sources/source-set.ts';

export interface SourceRoutesContext {
  sources: SourceSet;
  /** False while the server drains. */
  accepting(): boolean;
}

function parsePublish(body: unknown): { body: unknown; attributes: Record<string, string> | undefined } {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('body' in body)) {
    throw new RequestError('BAD_REQUEST', 'Expected a JSON object like { "body": …, "attributes": { … } }');
  }
  const { body: message, attributes, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new RequestError('BAD_REQUEST', `Unknown key ${quoted(extra[0]!)} (expected body, attributes)`);
  if (message === undefined) throw new RequestError('BAD_REQUEST', 'Expected `body` to be a JSON value');
  if (attributes !== undefined) {
    if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)
      || Object.values(attributes).some((v) => typeof v !== 'string')) {
      throw new RequestError('BAD_REQUEST', 'Expected `attributes` to be an object of strings');
    }
  }
  return { body: message, attributes: attributes as Record<string, string> | undefined };
}

export function registerSourceRoutes(app: FastifyInstance, ctx: SourceRoutesContext): void {
  app.get('/api/sources', async () => ({ sources: ctx.sources.views() }));

  app.post<{ Params: { name: string } }>('/api/sources/:name/messages', async (request, reply) => {
    const { name } = request.params;
    const source = ctx.sources.sources.get(name);
    if (!source) throw new RequestError('NOT_FOUND', `No source is named ${quoted(name)}`);
    if (!source.def.publish) {
      throw new RequestError('FORBIDDEN', `Source ${quoted(name)} does not take messages over HTTP (its config has no \`publish: true\`)`);
    }
    const { body, attributes } = parsePublish(request.body);
    if (!ctx.accepting()) throw new RequestError('NOT_READY', 'The server is shutting down');
    let id: string;
    try {
      id = await ctx.sources.publish(name, body, attributes);
    } catch (error) {
      const reason = String((error as Error)?.message ?? error).split('\n')[0];
      throw new RequestError('NOT_READY', `Could not publish to source ${quoted(name)}: ${reason}`, { cause: error });
    }
    return reply.status(202).send({ id });
  });
}
