/**
 * The built-in demo's producer: publishes a sample item (an order, a signup, an alert, a comment) to the demo's SQS
 * source every `intervalMs`, through the same adapter a real producer would use. The first failure to publish is
 * logged; the producer keeps trying.
 */
import type { SourceSet } from '../sources/source-set.ts';

export interface FeedItem {
  seq: number;
  kind: string;
  text: string;
  at: number;
}

const KINDS = ['order', 'signup', 'alert', 'comment'] as const;

/** Starts publishing; the returned function stops it and waits for the publish under way. */
export function startDemoProducer(sources: SourceSet, { source, intervalMs }: { source: string; intervalMs: number }, log: (line: string) => void): () => Promise<void> {
  let seq = 0;
  let busy: Promise<unknown> = Promise.resolve();
  let logged = false;
  const timer = setInterval(() => {
    seq += 1;
    const kind = KINDS[seq % KINDS.length]!;
    const item: FeedItem = { seq, kind, text: `${kind} #${seq}`, at: Date.now() };
    busy = sources.publish(source, item).catch((error: unknown) => {
      if (logged) return;
      logged = true;
      log(`the demo producer could not publish to source "${source}": ${String((error as Error)?.message ?? error).split('\n')[0]}`);
    });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await busy;
  };
}
