// Which runtime runs the tests, and what a runtime cannot do. The core's tests also run on Bun and Deno
// (scripts/other-runtimes.js); a test that needs an API one of them lacks is skipped there, naming the runtime's issue.
// README.md ("Bun and Deno") lists the same gaps.

export type Runtime = 'node' | 'bun' | 'deno';

export const runtime: Runtime = process.versions.bun !== undefined ? 'bun' : process.versions.deno !== undefined ? 'deno' : 'node';

/** Why a runtime cannot run a test: one line naming what is missing, with the runtime's issue. */
type Gap = Partial<Record<Exclude<Runtime, 'node'>, string>>;

/** `resourceLimits` for a thread (a thread out of memory ends with ERR_WORKER_OUT_OF_MEMORY). */
export const RESOURCE_LIMITS: Gap = {
  bun: 'Worker resourceLimits are not enforced: the thread grows until the process runs out of memory (https://github.com/oven-sh/bun/issues/31411)',
  deno: 'a Worker over its resourceLimits is not ended while it runs a MessagePort handler, only from a timer or the top level (resourceLimits came in https://github.com/denoland/deno/pull/32430)',
};

/** A thread's own process.on('unhandledRejection') / ('uncaughtException') listeners. */
export const THREAD_ERROR_LISTENERS: Gap = {
  bun: 'under `bun test` a Worker\'s own unhandledRejection listeners never run and the thread dies (https://github.com/oven-sh/bun/pull/36445)',
};

/** The `code` of the error a missing module throws (ERR_MODULE_NOT_FOUND), carried to the caller. */
export const MODULE_NOT_FOUND_CODE: Gap = {
  bun: 'a missing module throws a ResolveMessage whose `code` is not an own property, so it crosses the thread without it (https://github.com/oven-sh/bun/pull/34509)',
};

/** A forced close: the thread cancels, runs dispose() and ends well within DISPOSE_GRACE_MS. */
export const PROMPT_FORCED_END: Gap = {
  deno: 'a pool thread told to close by force runs dispose() but ends only when terminated at the end of the grace period (about 1.4 s instead of 0.1 s); no Deno issue found yet',
};

/** The test runner waits on a promise that only a loop's thread and its timers keep pending. */
export const WAIT_ON_THREAD: Gap = {
  deno: '`deno test` ends a test with "Promise resolution is still pending but the event loop has already resolved" while a restarting loop is all that keeps it alive; no Deno issue found yet',
};

/** A blocked caller probes a thread that died without marking its control block (a worker's utilization read). */
export const PROBES_THREAD_DEATH: Gap = {
  bun: "a Worker's eventLoopUtilization() is not implemented and reads zeros, so a thread's death cannot be probed (https://github.com/oven-sh/bun/issues/32609)",
  deno: "a Worker has no `performance`, so a thread's death cannot be probed (https://github.com/denoland/deno/issues/35150)",
};

/** A timer reads off a port (receiveMessageOnPort) a message that arrived while the thread was blocked. */
export const READ_WHAT_ARRIVED: Gap = {
  deno: 'receiveMessageOnPort skips a message the port\'s own receive loop has taken off the channel and not dispatched yet (scripts/deno-port-order.js; README, "Bun and Deno"), so the timeout can miss an answer that came: 2 runs in 10 under load; no Deno issue found yet',
};
/** Returns test options that skip the test on the runtimes `gaps` name, with the reason; on Node, none. */
export function unsupportedOn(...gaps: Gap[]): { skip?: string } {
  if (runtime === 'node') return {};
  const reason = gaps.map((gap) => gap[runtime]).find((text) => text !== undefined);
  return reason === undefined ? {} : { skip: `${runtime}: ${reason}` };
}

/** The arguments that run `code` as an ES module in a new process of this runtime (`node --input-type=module -e`). */
export function evalArgs(code: string, flags: string[] = []): string[] {
  return runtime === 'deno' ? ['eval', ...flags, code] : [...flags, '--input-type=module', '-e', code];
}
