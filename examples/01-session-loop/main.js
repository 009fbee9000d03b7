// Await a task, block on one from sync code, and time one out.
import { startLoop, TimeoutError } from 'sideloop';

const loop = await startLoop(new URL('./loop.js', import.meta.url), { initArgs: ['db'], readyTimeout: 5000 });
console.log('ready:', loop.initValue);

console.log('async:', await loop.submit('lookup', 'a'));
console.log('blocking:', loop.callSync('lookup', 'b'));

try {
  await loop.with({ timeout: 50 }).submit('lookup', 'slow'); // takes 10 s: cancelled after 50 ms
} catch (error) {
  console.log('timed out:', error instanceof TimeoutError);
}
await loop.close();
