// An async generator export streams results with backpressure; its finally runs when the consumer stops.
export async function* squares(limit) {
  try {
    for (let i = 1; i <= limit; i++) yield i * i;
  } finally {
    console.log('generator cleaned up');
  }
}
