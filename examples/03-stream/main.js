import { startLoop } from 'sideloop';

const loop = await startLoop(new URL('./loop.js', import.meta.url));
for await (const square of loop.stream('squares', 1_000_000)) {
  if (square > 50) break; // stops the generator in the loop
  console.log(square);
}
await loop.close();
