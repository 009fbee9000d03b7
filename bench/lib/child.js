// Runs one scenario in a fresh process (no threads, JIT state or heap left over from another scenario) and sends
// its result to the parent over IPC. Usage (from run.js): fork(child.js, [scenarioFile, 'quick' | 'full']).
import { pathToFileURL } from 'node:url';

const [file, mode] = process.argv.slice(2);

function send(message) {
  return new Promise((resolve) => {
    process.send(message, () => resolve());
  });
}

let message;
try {
  const scenario = await import(pathToFileURL(file).href);
  const result = await scenario.run({ quick: mode === 'quick' });
  message = { ok: true, rows: result.rows, notes: result.notes ?? [] };
} catch (error) {
  message = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
await send(message);
// Threads a contender failed to close (or a synckit worker, which has no close) must not keep the run waiting.
process.exit(0);
