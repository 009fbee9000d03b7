#!/usr/bin/env node
// Checks the documentation's links: every relative link in the Markdown files points at a file that exists, and
// every `#anchor` at a heading of that file (GitHub's slugs). External links are left alone (no network in CI).
// Then the API reference is built from the TSDoc comments with every `{@link}` resolved (typedoc.json).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files = [
  'README.md', 'examples/README.md', 'bench/README.md', 'bench/results/README.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}/README.md`),
].filter((file) => existsSync(join(root, file)));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function slug(heading) {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file) {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])));
}

const broken = [];
for (const file of files) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue;
    const [pathPart, anchor] = target.split('#');
    const targetFile = pathPart ? resolve(dirname(path), pathPart) : path;
    if (!existsSync(targetFile)) broken.push(`${file}: ${target} (no such file)`);
    else if (anchor && targetFile.endsWith('.md') && !anchorsOf(targetFile).has(anchor)) {
      broken.push(`${file}: ${target} (no heading #${anchor} in ${relative(root, targetFile)})`);
    }
  }
}
if (broken.length > 0) {
  console.error(`Broken links:\n  ${broken.join('\n  ')}`);
  process.exit(1);
}
console.log(`links: ${files.length} Markdown files checked`);
execFileSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--emit', 'none'], { cwd: root, stdio: 'inherit' });
console.log('API reference: every {@link} resolves');
