/**
 * The two numbers a JetStream consumer needs from each message's reply subject: the stream sequence (the message's
 * id) and the delivery count (its attempt). The client's `JsMsg.info` parses the same subject, but splits it into
 * all its tokens and builds an object of nine fields for every message; this reads the two fields in place.
 *
 * The subject is `$JS.ACK.<stream>.<consumer>.<deliveryCount>.<streamSeq>.<deliverySeq>.<timestamp>.<pending>`
 * (9 tokens), or, from servers that add a domain and an account hash, `$JS.ACK.<domain>.<accountHash>.<stream>.
 * <consumer>.<deliveryCount>.<streamSeq>...` (11 tokens, 12 with a trailing random token). Stream and consumer names
 * never hold a dot, so the fields are found by position.
 */
export interface ReplyInfo {
  streamSequence: number;
  deliveryCount: number;
}

const DOT = 46;
const ZERO = 48;
const NINE = 57;
/** Scratch for `parseReply` (no array per message): where each token starts. */
const starts = new Int32Array(10);

/** The stream sequence and delivery count in `reply`; undefined when it is not a JetStream ack subject (a string). */
export function parseReply(reply: unknown): ReplyInfo | undefined {
  if (typeof reply !== 'string' || !reply.startsWith('$JS.ACK.')) return undefined;
  // Where each token after `$JS.ACK.` starts, up to the 10th: enough to know the layout and to read both fields.
  let count = 0;
  for (let at = 8; count < 10;) {
    starts[count++] = at;
    const dot = reply.indexOf('.', at);
    if (dot === -1) break;
    at = dot + 1;
  }
  // 7 tokens after `$JS.ACK.` is the old layout (stream first); 9 or more, the one with a domain and account hash.
  const first = count === 7 ? 2 : count >= 9 ? 4 : -1;
  if (first === -1) return undefined;
  const deliveryCount = digits(reply, starts[first]!);
  const streamSequence = digits(reply, starts[first + 1]!);
  if (deliveryCount === undefined || streamSequence === undefined) return undefined;
  return { streamSequence, deliveryCount };
}

/** The decimal number that starts at `from` and runs to the next dot or the end; undefined when it is not one. */
function digits(s: string, from: number): number | undefined {
  let value = 0;
  let i = from;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) break;
    if (c < ZERO || c > NINE) return undefined;
    value = value * 10 + (c - ZERO);
  }
  return i === from ? undefined : value;
}
