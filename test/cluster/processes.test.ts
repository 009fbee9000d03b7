// sideloop/cluster across real processes on the shared Redis (a prefix of its own per test): worker nodes killed
// with SIGKILL mid-task, a submitter that exits before its tasks ran, a cancel from another process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, afterEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { CancelledError } from '../../packages/core/src/index.ts';
import { startCluster, type Cluster } from '../../packages/core/src/cluster/index.ts';
import { eventually, fixture, runChild } from '../helpers.ts';
import { dropPrefix } from './drop-prefix.ts';

const REDIS = 'redis://127.0.0.1:6379';
const admin = new Redis(REDIS);
const children = new Set<ChildProcess>();
const clusters: Cluster[] = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const cluster of clusters.splice(0)) await cluster.close();
  for (const prefix of prefixes.splice(0)) await dropPrefix(admin, prefix);
});
after(() => admin.disconnect());

interface NodeProcess {
  child: ChildProcess;
  lines: string[];
  /** Resolves once a line matching `pattern` was printed. */
  line(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

/** Starts a worker node process (fixtures/cluster-node.ts) and waits until it takes jobs. */
async function startNode(prefix: string, name: string, concurrency = 4): Promise<NodeProcess> {
  const child = spawn(process.execPath, [fixture('cluster-node.ts').pathname], {
    env: { ...process.env, CLUSTER_REDIS: REDIS, CLUSTER_PREFIX: prefix, CLUSTER_NODE: name, CLUSTER_CONCURRENCY: String(concurrency) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  const line = (pattern: RegExp): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l));
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
  await Promise.race([line(/^ready$/), exited.then((code) => assert.fail(`node ${name} exited with ${code} before it was ready`))]);
  return { child, lines, line, exited };
}

async function kill(node: NodeProcess): Promise<void> {
  node.child.kill('SIGKILL');
  await node.exited;
}

async function submitter(prefix: string): Promise<Cluster> {
  const cluster = await startCluster({ redis: REDIS, prefix, node: 'submitter', stalledInterval: 2000 });
  clusters.push(cluster);
  return cluster;
}

describe('sideloop/cluster across processes', () => {
  it('completes every task with its value when a worker node is killed with SIGKILL twice mid-task: none lost', async () => {
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    // The steady node takes one job at a time, the victim four: the victim always has jobs running when it is killed.
    const steady = await startNode(prefix, 'steady', 1);
    let victim = await startNode(prefix, 'victim', 4);
    const cluster = await submitter(prefix);
    const total = 1000;
    const tasks = Array.from({ length: total }, (_, i) => cluster.submit<number>('work', 'slow', [20, i]));
    for (let kills = 0; kills < 2; kills++) {
      // Kill the victim once it has finished 20 tasks (more are running there), then start a node of that name again.
      await eventually(() => victim.lines.filter((line) => line.endsWith(' fulfilled')).length >= 20, 'the victim to finish 20 tasks', 60_000);
      await kill(victim);
      victim = await startNode(prefix, 'victim', 4);
    }
    const values = await Promise.all(tasks);
    assert.deepEqual(values, Array.from({ length: total }, (_, i) => i));
    const stats = await cluster.stats();
    assert.deepEqual(stats.queues, [{ loop: 'work', pending: 0, running: 0, completed: total, failed: 0, delayed: 0 }]);
    assert.ok(steady.lines.some((line) => line.endsWith(' fulfilled')));
  });

  it('keeps the tasks of a submitter that exited before they ran; any node reads their results', async () => {
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    const ids = Array.from({ length: 20 }, (_, i) => `job-${i}`);
    // The worker node registers loop `work`, then stops: nothing runs while the submitter lives.
    const first = await startNode(prefix, 'first');
    first.child.kill('SIGTERM');
    await Promise.race([first.line(/^closed$/), first.exited.then((code) => assert.fail(`the first node exited with ${code} without closing`))]);
    const child = await runChild(`
      import { startCluster } from 'sideloop/cluster';
      const cluster = await startCluster({ redis: ${JSON.stringify(REDIS)}, prefix: ${JSON.stringify(prefix)}, node: 'short-lived' });
      const tasks = ${JSON.stringify(ids)}.map((jobId, i) => cluster.submit('work', 'double', [i], { jobId }));
      for (const task of tasks) task.catch(() => {});
      await Promise.all(tasks.map((task) => task.stored()));
      console.log(tasks.map((t) => t.state).join(','));
      process.exit(0);
    `);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stdout.trim(), ids.map(() => 'pending').join(','));
    await startNode(prefix, 'second');
    const cluster = await submitter(prefix);
    const values = await Promise.all(ids.map(async (id) => (await cluster.job(id))!.result()));
    assert.deepEqual(values, ids.map((_, i) => i * 2));
  });

  it('lets a process that closed its cluster exit, without waiting out the deadline of the calls it made', async () => {
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    // With a 10-minute commandTimeout, a deadline still armed after close would hold the process far past the limit.
    const child = await runChild(`
      import { startPool } from 'sideloop';
      import { startCluster } from 'sideloop/cluster';
      const pool = await startPool(new URL(${JSON.stringify(fixture('cluster-work.js').href)}), { minThreads: 1, maxThreads: 1 });
      const cluster = await startCluster({ redis: ${JSON.stringify(REDIS)}, prefix: ${JSON.stringify(prefix)}, node: 'brief', serve: { work: pool }, commandTimeout: 600000 });
      console.log(await cluster.submit('work', 'double', [21]), (await cluster.stats()).queues.length);
      await cluster.close();
      await pool.close();
    `);
    assert.equal(child.signal, null, 'the process was still running at the limit');
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stdout.trim(), '42 1');
  });

  it('cancels from this process a task running in another: its signal is aborted there and it ends cancelled', async () => {
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    const runner = await startNode(prefix, 'runner');
    const cluster = await submitter(prefix);
    const task = cluster.submit('work', 'untilCancelled', []);
    await new Promise((resolve) => {
      void task.on('progress', resolve);
    });
    assert.equal(task.state, 'running');
    assert.equal(await task.cancel('stop it'), true);
    await assert.rejects(task, (e: CancelledError) => e instanceof CancelledError && e.reason === 'stop it');
    await runner.line(new RegExp(`^done ${task.id} cancelled$`));
    const found = await cluster.job(task.id);
    await assert.rejects(found!.result(), CancelledError);
    // The runner stores the job's end right after it reported it: wait for the counts to show it.
    await eventually(async () => (await cluster.stats()).queues[0]!.failed === 1, 'the cancelled job to be stored as failed');
    assert.deepEqual((await cluster.stats()).queues.map(({ failed, completed }) => ({ failed, completed })), [{ failed: 1, completed: 0 }]);
  });
});
