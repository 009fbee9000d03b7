// sideloop as a user gets it: the built package (dist/), one loop running bench/fixtures/loop.js.
export const loopModule = new URL('../fixtures/loop.js', import.meta.url);

/** Starts the bench loop; fails with a clear message when the package has not been built. */
export async function startBenchLoop() {
  let api;
  try {
    api = await import('sideloop');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot load the built package (run \`npm run build\`): ${reason}`, { cause: error });
  }
  const loop = await api.startLoop(loopModule, { name: 'bench' });
  return { loop, transfer: api.transfer };
}

/** The fixtures folder. */
export function fixture(name) {
  return new URL(`../fixtures/${name}`, import.meta.url);
}
