/**
 * Running a loop's jobs through its handle, on the main thread: each job is a `target.submit()` call that crosses to
 * the loop's thread. For what cannot carry the worker into the loop's threads (thread-link.ts): a loop started in
 * another thread, a handle made by `with()`, a Redis given with options that cannot be sent to a thread.
 */
import type { ConnectionOptions } from 'bullmq';
import { extensions } from '../extensions.ts';
import type { CancelMarks } from './cancel-marks.ts';
import type { ServeTarget } from './cluster-options.ts';
import { JobRunner, type JobHost, type RunnerEvents, type RunnerSettings } from './job-runner.ts';

export function targetJobs(settings: RunnerSettings, connection: ConnectionOptions, target: ServeTarget, marks: CancelMarks, events: RunnerEvents): JobRunner {
  const { loop } = settings;
  const host: JobHost = {
    events,
    mark: (id) => marks.check(loop, id),
    cleared: (id) => void marks.clear(loop, id).catch(() => {}),
    start(job, args, progress) {
      const on = job.data.t === undefined ? target : target.with({ timeout: job.data.t });
      const meta = job.data.m;
      const task = meta && extensions.restoreMeta
        ? extensions.restoreMeta(meta, () => on.submit(job.name, ...args))
        : on.submit(job.name, ...args);
      void task.on('progress', progress);
      return { done: task, cancel: (reason) => void task.cancel(reason) };
    },
  };
  return new JobRunner(settings, connection, host);
}
