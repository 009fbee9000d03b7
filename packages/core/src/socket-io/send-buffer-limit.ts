/**
 * A bound on what the server holds for one client. A client that stops reading (a stalled tab, a slow link, a
 * misbehaving script) makes Socket.IO queue every packet sent to it, without limit. This counts, per connection, the
 * bytes queued for it plus those its WebSocket has not yet written, and disconnects a client that goes over the
 * bound, with a reason for the log.
 */
import type { Server } from 'socket.io';
import { checkInteger, checkObject, invalid } from '../options.ts';

export interface SendBufferLimitOptions {
  /** Bytes one client may have waiting to be sent before it is disconnected. @default 8388608 (8 MiB) */
  maxBytes?: number;
  /** Told about each client disconnected for going over the bound. */
  onExceeded?: (info: { id: string; address: string; bytes: number; maxBytes: number }) => void;
}

interface EnginePacket {
  data?: unknown;
}

interface EngineConnection {
  id: string;
  remoteAddress: string;
  transport: { socket?: { bufferedAmount?: number; terminate?: () => void } };
  on(event: 'packetCreate', listener: (packet: EnginePacket) => void): unknown;
  on(event: 'flush', listener: (buffer: EnginePacket[]) => void): unknown;
  close(discard?: boolean): void;
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}

/** Applies the bound to every connection of `io` from now on; returns a function that stops applying it. */
export function limitSendBuffers(io: Server<any, any>, input: SendBufferLimitOptions = {}): () => void {
  const options = checkObject('options', input) as SendBufferLimitOptions;
  const maxBytes = checkInteger('maxBytes', options.maxBytes, 1) ?? 8 * 1024 * 1024;
  const { onExceeded } = options;
  if (onExceeded !== undefined && typeof onExceeded !== 'function') throw invalid('onExceeded', 'a function', onExceeded);
  const onConnection = (conn: EngineConnection): void => {
    const sizes = new WeakMap<EnginePacket, number>();
    let queued = 0;
    let cut = false;
    conn.on('packetCreate', (packet) => {
      const bytes = sizeOf(packet.data);
      sizes.set(packet, bytes);
      queued += bytes;
      if (cut) return;
      const total = queued + (conn.transport.socket?.bufferedAmount ?? 0);
      if (total <= maxBytes) return;
      cut = true;
      onExceeded?.({ id: conn.id, address: conn.remoteAddress, bytes: total, maxBytes });
      const socket = conn.transport.socket;
      conn.close(true);
      // A WebSocket's polite close waits for the peer, holding what it buffered; this client is not reading.
      socket?.terminate?.();
    });
    conn.on('flush', (buffer) => {
      for (const packet of buffer) queued -= sizes.get(packet) ?? 0;
    });
  };
  io.engine.on('connection', onConnection);
  return () => {
    io.engine.off('connection', onConnection);
  };
}
