// A Fastify app with an SQS consumer on a loop of its own and every message relayed live to Socket.IO clients: the
// pattern of a Flask app with a background SQS thread and socket.io's `item_added`, done with sideloop.
// `node examples/05-fastify-sqs-socketio/main.js` runs an SQS emulator in-process (fauxqs), publishes three items
// through the app's own route, prints what a Socket.IO client received, and exits. Against real SQS, pass
// `{ queueUrl }` (and the AWS SDK's usual credentials) instead of `endpoint`.
import Fastify from 'fastify';
import { startFauxqs } from 'fauxqs';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import sideloop from 'sideloop/fastify';
import { attachRelay } from 'sideloop/socket.io';
import { sqs } from 'sideloop/sources/sqs';

const emulator = await startFauxqs({ port: 0, logger: false });
const queue = {
  queue: 'items',
  endpoint: `http://127.0.0.1:${emulator.port}`,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  waitTimeSeconds: 1,
  create: true, // the queue and its dead-letter queue `items-dead`, if missing
};

const app = Fastify();
// The loop is ready before listen(); it closes with the app, after the requests in flight.
await app.register(sideloop, { loops: { feed: { module: new URL('./feed.js', import.meta.url) } } });
const consumer = await app.loops.feed.with({ restart: 'on-failure' }).spawn('feed', queue); // resolves once messages flow

const producer = sqs(queue);
app.post('/items', async (request) => ({ id: await producer.publish(JSON.stringify(request.body)) }));

// Socket.IO on the same HTTP server; the relay sends each `item_added` the loop emits to every client.
const io = new Server(app.server);
const relay = attachRelay(io, { loops: { feed: app.loops.feed }, events: ['item_added'] });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${app.server.address().port}`;
console.log(`listening on ${url}`);

const client = connect(url, { transports: ['websocket'] });
const received = new Promise((resolve) => {
  const items = [];
  client.on('item_added', (item) => {
    items.push(item);
    if (items.length === 3) resolve(items);
  });
});
await new Promise((resolve) => client.once('connect', resolve));
for (const name of ['apple', 'pear', 'plum']) {
  await fetch(`${url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
}
const items = await received;
console.log('item_added:', items.map((item) => item.name).sort().join(', '));
console.log('consumer stats:', await consumer.stop());

client.close();
relay.close();
await io.close(); // closes the clients' connections and the HTTP server they share with the app
await app.close(); // closes the loop
await producer.close();
await emulator.stop();
