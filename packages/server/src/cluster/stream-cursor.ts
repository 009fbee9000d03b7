/**
 * Stream readers that never skip an entry, for `@socket.io/redis-streams-adapter`.
 *
 * The adapter (0.3.1, the latest, and its main branch) reads its stream with `XREAD BLOCK 5000 ... STREAMS <stream>
 * <offset>` on a duplicate of the client it is given. It starts from `$` and moves to each entry it reads; until it
 * has read one, a read that timed out empty is followed by another from `$`, so what other nodes add between the two
 * is never read. The gap is one round trip, or as long as this node's event loop is busy: a node that took a burst of
 * submissions on a quiet stream lost the first `task:done` events of its tasks that way.
 *
 * `readFromCursor` makes the duplicates of `client` read from a cursor instead of `$`: the stream's last entry when it
 * was called (the promise it returns resolves once Redis told it), then the last entry read. An offset the adapter
 * gives is used as given.
 */
import type { Redis } from 'ioredis';

type StreamEntries = Array<[id: string, fields: string[]]>;
type ReadReply = Array<[stream: string, entries: StreamEntries]> | null;

export function readFromCursor(client: Redis, stream: string): Promise<void> {
  let cursor: string | undefined;
  const started = client.xrevrange(stream, '+', '-', 'COUNT', 1).then((last: StreamEntries) => {
    cursor = last[0]?.[0] ?? '0-0';
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...options) => {
    const reader = duplicate(...options);
    const xread = reader.xread.bind(reader) as (...args: Array<string | number>) => Promise<ReadReply>;
    const readFrom = async (...args: Array<string | number>): Promise<ReadReply> => {
      if (args.at(-1) === '$') {
        // Known once Redis answered (the server waits for that before it listens); if it failed, `$` as asked.
        await started.catch(() => {});
        if (cursor !== undefined) args[args.length - 1] = cursor;
      }
      const reply = await xread(...args);
      const last = reply?.[0]?.[1].at(-1);
      if (last) cursor = last[0];
      return reply;
    };
    (reader as unknown as { xread: typeof readFrom }).xread = readFrom;
    return reader;
  };
  return started;
}
