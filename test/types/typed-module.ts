// A loop module used only for its types.
export function init(url: string): { url: string } {
  return { url };
}
export function add(a: number, b: number): number {
  return a + b;
}
export async function fetchUser(id: string): Promise<{ id: string; name: string }> {
  return { id, name: 'x' };
}
export async function* numbers(n: number): AsyncGenerator<number, string> {
  for (let i = 0; i < n; i++) yield i;
  return 'done';
}
export async function consume(queue: string): Promise<number> {
  return queue.length;
}
export const notAFunction = 42;
