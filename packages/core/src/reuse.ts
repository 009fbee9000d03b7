/**
 * `reuse: true`: hot-reload safety. A dev server (Vite, Next.js) evaluates an app module again on every edit; a
 * `startLoop` at its top would start one more thread each time. With `reuse`, the loop or pool started earlier in
 * this process under the same name is handed back while its module URL and the module file's content are unchanged;
 * when the loop module itself changed, the old one is closed and the new code starts. The registry lives on
 * `globalThis`, so module copies a dev server re-evaluates (or bundles twice) all see the same entries.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** What the registry needs of a loop or a pool. */
export interface Reusable {
  readonly state: string;
  close(): Promise<void>;
}

interface Entry {
  kind: 'loop' | 'pool';
  url: string;
  fingerprint: string;
  /** The start in progress or done; a failed start leaves the registry. */
  started: Promise<Reusable>;
}

/** File content fingerprints by URL, recomputed only when the file's size or mtime moved. */
interface Stamp {
  mtimeMs: number;
  size: number;
  fingerprint: string;
}

interface Registry {
  entries: Map<string, Entry>;
  stamps: Map<string, Stamp>;
}

const REGISTRY_KEY = Symbol.for('sideloop.reuse.v1');
const registry: Registry = ((globalThis as any)[REGISTRY_KEY] ??= { entries: new Map(), stamps: new Map() });

/** The states in which a loop or pool can no longer serve: a new one is started in its place. */
const GONE = new Set(['closing', 'closed', 'crashed', 'failed']);

/**
 * Hands back the live loop or pool registered under `name` when `kind`, `url` and the module's content match, or
 * starts one with `start` (closing the one it replaces first). Concurrent calls share one start.
 */
export async function reuseOrStart<T extends Reusable>(
  kind: Entry['kind'], name: string, url: string, start: () => Promise<T>,
): Promise<T> {
  const fingerprint = await fingerprintOf(url);
  const previous = registry.entries.get(name);
  if (previous && previous.kind === kind && previous.url === url && previous.fingerprint === fingerprint) {
    const live = await previous.started.catch(() => undefined);
    if (live && !GONE.has(live.state) && registry.entries.get(name) === previous) return live as T;
  }
  // Another call may have replaced the entry while this one waited: go through it.
  const current = registry.entries.get(name);
  if (current && current !== previous) return reuseOrStart(kind, name, url, start);
  const started = replace(previous, start);
  const entry: Entry = { kind, url, fingerprint, started };
  registry.entries.set(name, entry);
  try {
    return await started;
  } catch (error) {
    if (registry.entries.get(name) === entry) registry.entries.delete(name);
    throw error;
  }
}

async function replace<T extends Reusable>(previous: Entry | undefined, start: () => Promise<T>): Promise<T> {
  const old = await previous?.started.catch(() => undefined);
  if (old && old.state !== 'closed') await old.close();
  return start();
}

/** The content fingerprint of a `file:` module (sha-1 of its bytes); other URLs (`data:`) are their own. */
async function fingerprintOf(url: string): Promise<string> {
  if (!url.startsWith('file:')) return url;
  const path = fileURLToPath(url);
  let info;
  try {
    info = await stat(path);
  } catch {
    return 'missing'; // the start that follows reports the missing module as it always does
  }
  const known = registry.stamps.get(url);
  if (known && known.mtimeMs === info.mtimeMs && known.size === info.size) return known.fingerprint;
  const fingerprint = createHash('sha1').update(await readFile(path)).digest('hex');
  registry.stamps.set(url, { mtimeMs: info.mtimeMs, size: info.size, fingerprint });
  return fingerprint;
}
