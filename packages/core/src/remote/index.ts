/**
 * `sideloop/remote`: what every front end that runs loop functions for remote clients shares (the HTTP API and the
 * Socket.IO relay of `@sideloop/server`, or an app's own): parsing and running a task request, the coded request
 * errors, JSON values bounded in size, public task ids, and the option checks with the library's messages.
 */
export { RequestError, errorInfo, quoted, type RequestErrorCode } from './request-error.ts';
export { exposedTarget, parseTaskRequest, submitTask, type ExposedTarget, type TaskRequest } from './submit.ts';
export { loopInfo, readStats, targetHealth, type RelayTarget, type RelayTask, type TaskListener } from './target.ts';
export { boundedValue, jsonSafe, jsonStringBytes, MAX_VALUE_BYTES } from './json-value.ts';
export { withPublicId } from './public-id.ts';
export { httpAnswerOf, httpErrorOf, retryAfterOf, RETRY_AFTER_SECONDS, type HttpAnswer } from './http-error.ts';
export { checkInteger, checkMs, checkObject, invalid, show } from '../options.ts';
export { registerSideloopErrorClass } from '../error-codec.ts';
export { mainDelay } from '../thread/health.ts';
export { settlesWithin } from '../cluster/settles-within.ts';
export { REDIS_WAIT_DEFAULTS } from '../cluster/cluster-options.ts';
