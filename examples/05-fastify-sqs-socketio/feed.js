// The loop module: an SQS consumer as a service. Each message becomes an `item_added` event, acknowledged only after
// the event went out; a body that is not JSON is dead-lettered.
import { consume } from 'sideloop/sources';
import { sqs } from 'sideloop/sources/sqs';

export async function feed(options) {
  return consume(sqs(options), async (message, { emit }) => {
    emit('item_added', message.json());
  }, { concurrency: 4 });
}
