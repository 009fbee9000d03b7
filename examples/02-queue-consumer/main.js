// Start the consumer, feed it, watch the events, stop it gracefully.
import { startLoop } from 'sideloop';

const loop = await startLoop(new URL('./loop.js', import.meta.url));
loop.on('item_added', (item, { taskId }) => console.log('item_added', item, 'from', taskId));

const consumer = await loop.with({ restart: 'on-failure' }).spawn('consume');
console.log('consumer ready:', consumer.readyValue);
for (let i = 1; i <= 3; i++) await loop.submit('enqueue', { id: i });
console.log('processed:', await consumer.stop());
await loop.close();
