/**
 * Public task ids: what HTTP and Socket.IO clients see instead of the core's sequential ids (`loop:12`), so that no
 * client can guess and cancel another's task by counting. 128 random bits, URL-safe.
 */
import { randomBytes } from 'node:crypto';
import type { RelayTask } from './target.ts';

/** A fresh id: 22 characters of base64url holding 128 random bits. */
export function newPublicId(): string {
  return randomBytes(16).toString('base64url');
}

/** The same task under a public id: state, cancel, progress and settlement all pass through to `task`. */
export function withPublicId(task: RelayTask, id: string = newPublicId()): RelayTask {
  const view: RelayTask = {
    id,
    get state() {
      return task.state;
    },
    cancel: (reason) => task.cancel(reason),
    onDone: (callback) => task.onDone(() => callback(view)),
    on: (event, listener) => task.on(event, listener),
    then: (onFulfilled, onRejected) => task.then(onFulfilled, onRejected),
  };
  return view;
}
