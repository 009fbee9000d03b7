export { attachRelay, settledEvent } from './relay.ts';
export type { Relay, RelayOptions, RelayServer, RelaySocket } from './relay.ts';
export { RequestError, errorInfo } from './request-error.ts';
export type { RequestErrorCode } from './request-error.ts';
export { taskRoom, relayEventNames } from './events.ts';
export type * from './events.ts';
export type { RelayTarget, RelayTask } from './target.ts';
export type { TaskRequest } from './submit.ts';
