/**
 * A server span per HTTP request, through the OpenTelemetry API (a no-op until the app registers an SDK, for example
 * with `node --import ./tracing.js`): named after its route (`POST /api/loops/:name/tasks`), a child of the
 * caller's `traceparent` if it sent one, and the active span while the route runs, so that the tasks it submits are
 * its children once the app called `instrument()` from `sideloop/otel`. It ends with the status code, a 5xx as an error.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

export function traceRequests(app: FastifyInstance): void {
  const tracer = trace.getTracer('@sideloop/server');
  const spans = new WeakMap<object, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched route';
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0] },
    }, parent);
    spans.set(request, span);
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
