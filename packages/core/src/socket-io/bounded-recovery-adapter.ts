/**
 * Connection state recovery with a memory bound. Socket.IO's in-memory `SessionAwareAdapter` keeps every broadcast
 * packet for `maxDisconnectionDuration` (two minutes on `sideloop serve`), however large or many: a burst of large
 * relayed packets held hundreds of megabytes. This adapter keeps the same packets but at most `maxBytes` of them,
 * forgetting the oldest first; a client that was away longer than what is kept simply is not recovered (it connects
 * as new, as after an expired session).
 */
import { SessionAwareAdapter } from 'socket.io-adapter';
import { checkInteger, invalid } from '../options.ts';

/** A packet kept for recovery (`packets` is private in the adapter's typings, public in its code). */
interface Stored {
  data: unknown[];
}

function sizeOf(data: unknown[]): number {
  let bytes = 0;
  for (const item of data) {
    if (typeof item === 'string') bytes += item.length;
    else if (ArrayBuffer.isView(item) || item instanceof ArrayBuffer) bytes += item.byteLength;
    else {
      try {
        bytes += JSON.stringify(item)?.length ?? 0;
      } catch {
        bytes += 64;
      }
    }
  }
  return bytes;
}

/** An adapter class for `new Server(http, { adapter, connectionStateRecovery })` that keeps at most `maxBytes`. */
export function boundedRecoveryAdapter(maxBytes: number): typeof SessionAwareAdapter {
  if (maxBytes === undefined) throw invalid('maxBytes', 'an integer >= 0', maxBytes);
  checkInteger('maxBytes', maxBytes, 0);
  return class BoundedRecoveryAdapter extends SessionAwareAdapter {
    /** Sizes of the stored packets, oldest first, in step with `packets`. */
    #sizes: Array<{ packet: Stored; bytes: number }> = [];
    #bytes = 0;

    get #packets(): Stored[] {
      return (this as unknown as { packets: Stored[] }).packets;
    }

    /** Bytes held for recovery now. */
    get storedBytes(): number {
      this.#sync();
      return this.#bytes;
    }

    override broadcast(...args: Parameters<SessionAwareAdapter['broadcast']>): void {
      const before = this.#packets.length;
      super.broadcast(...args);
      if (this.#packets.length === before) return;
      const packet = this.#packets[this.#packets.length - 1]!;
      const bytes = sizeOf(packet.data);
      this.#sizes.push({ packet, bytes });
      this.#bytes += bytes;
      if (this.#bytes <= maxBytes) return;
      this.#sync();
      let drop = 0;
      while (this.#bytes > maxBytes && drop < this.#sizes.length) this.#bytes -= this.#sizes[drop++]!.bytes;
      this.#sizes.splice(0, drop);
      this.#packets.splice(0, drop);
    }

    /** Forgets the sizes of packets Socket.IO's own expiry timer has removed (always a prefix). */
    #sync(): void {
      const first = this.#packets[0];
      let drop = 0;
      while (drop < this.#sizes.length && this.#sizes[drop]!.packet !== first) this.#bytes -= this.#sizes[drop++]!.bytes;
      if (drop > 0) this.#sizes.splice(0, drop);
    }
  };
}
