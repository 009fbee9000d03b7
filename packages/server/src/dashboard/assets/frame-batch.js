// Socket.IO messages can arrive faster than the page can draw them: a task's progress ten times a second, a burst of
// relayed events, all while a busy machine gives the browser little CPU. Rendering once per message then falls
// behind for good, and the backlog keeps the page from answering clicks. A frame batch holds what arrives and
// applies it all at the next animation frame, so the page draws at most once a frame however fast messages come.
// A hidden tab draws no frames: a timer flushes then, and so does a long queue, so waiting items stay bounded.

/** How many items wait at most before they are applied at once. */
export const MAX_WAITING = 1000;
/** How long (ms) an item waits at most when no frame comes (a hidden tab). */
export const MAX_DELAY_MS = 1000;

/** Calls `apply(item)` for each pushed item, in order, at the next frame (or sooner, as above). */
export function frameBatch(apply) {
  let waiting = [];
  let frame;
  let timer;

  function flush() {
    if (frame !== undefined) cancelAnimationFrame(frame);
    clearTimeout(timer);
    frame = undefined;
    timer = undefined;
    const items = waiting;
    waiting = [];
    for (const item of items) apply(item);
  }

  return {
    push(item) {
      waiting.push(item);
      if (waiting.length >= MAX_WAITING) flush();
      else if (frame === undefined) {
        frame = requestAnimationFrame(flush);
        timer = setTimeout(flush, MAX_DELAY_MS);
      }
    },
    /** Applies what waits now (before something that must come after it). */
    flush,
  };
}
