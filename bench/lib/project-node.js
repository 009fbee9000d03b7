// Benchmarks that share the tests' TypeScript helpers need a Node that reads TypeScript (22.18+): started with an
// older `node` (Node 20 on PATH), they run themselves again on the project's own Node and exit with its status.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function onProjectNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 18)) return;
  const node = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
  process.exit(spawnSync(node, process.argv.slice(1), { stdio: 'inherit' }).status ?? 1);
}
