/** Where a loop module is, as loops and pools accept it: a URL, a file URL string, or a path (relative to the cwd). */
import { basename, isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';

export function moduleUrlOf(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) throw new TypeError(`Expected \`module\` to be a path or URL, got \`${String(module)}\``);
  if (/^(file|data):/.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolvePath(process.cwd(), module)).href;
}

/** The default name of a loop or pool: its module's file name without the extension. */
export function nameOfModule(url: string): string {
  return basename(new URL(url).pathname).replace(/\.[cm]?[jt]s$/, '');
}
