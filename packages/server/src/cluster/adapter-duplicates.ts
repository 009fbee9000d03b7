/**
 * The connections `@socket.io/redis-streams-adapter` duplicates from the client it is given (its stream reader and
 * its subscriber), set right in two ways.
 *
 * **They never skip an entry.** The adapter (0.3.1, the latest, and its main branch) reads its stream with
 * `XREAD BLOCK 5000 ... STREAMS <stream> <offset>`. It starts from `$` and moves to each entry it reads; until it has
 * read one, a read that timed out empty is followed by another from `$`, so what other nodes add between the two is
 * never read. The gap is one round trip, or as long as this node's event loop is busy: a node that took a burst of
 * submissions on a quiet stream lost the first `task:done` events of its tasks that way. Here the duplicates read
 * from a cursor instead of `$`: the stream's last entry when `adapterDuplicates` was called (`started` resolves once
 * Redis told it), then the last entry read. An offset the adapter gives is used as given.
 *
 * **They can be cut.** The adapter ends its reader only once a read returns, which a Redis that answers nothing never
 * does; `duplicates` lists them for a close that cuts them, and their `SUBSCRIBE`, which the adapter leaves unhandled,
 * is handled (it fails only when the connection is cut: while Redis is away it waits).
 */
import type { Redis } from 'ioredis';

type StreamEntries = Array<[id: string, fields: string[]]>;
type ReadReply = Array<[stream: string, entries: StreamEntries]> | null;
type Command<T> = (...args: Array<string | number>) => Promise<T>;

export interface AdapterDuplicates {
  started: Promise<void>;
  /** Every duplicate of the client made since. */
  duplicates: Redis[];
}

export function adapterDuplicates(client: Redis, stream: string): AdapterDuplicates {
  let cursor: string | undefined;
  const duplicates: Redis[] = [];
  const started = client.xrevrange(stream, '+', '-', 'COUNT', 1).then((last: StreamEntries) => {
    cursor = last[0]?.[0] ?? '0-0';
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...options) => {
    const copy = duplicate(...options);
    duplicates.push(copy);
    const xread = copy.xread.bind(copy) as Command<ReadReply>;
    const subscribe = copy.subscribe.bind(copy) as Command<unknown>;
    const replaced: { xread: Command<ReadReply>; subscribe: Command<unknown> } = {
      async xread(...args) {
        if (args.at(-1) === '$') {
          // Known once Redis answered (the server waits for that before it listens); if it failed, `$` as asked.
          await started.catch(() => {});
          if (cursor !== undefined) args[args.length - 1] = cursor;
        }
        const reply = await xread(...args);
        const last = reply?.[0]?.[1].at(-1);
        if (last) cursor = last[0];
        return reply;
      },
      subscribe(...args) {
        const done = subscribe(...args);
        done.catch(() => {});
        return done;
      },
    };
    Object.assign(copy, replaced);
    return copy;
  };
  return { started, duplicates };
}
