/**
 * The module a source's loop runs. A source with a loop of its own runs source-loop.ts; a source on a configured
 * loop runs that loop's module with the source service added beside its exports, through a small `data:` module
 * that re-exports both (the loop module itself loads as it always does, from its own file).
 */

/** `.ts` when run from source, `.js` from dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The export that runs a source; a loop module's own export of that name would be shadowed, so it is unusual on purpose. */
export const SOURCE_SERVICE = 'sideloopSource';

/** The module of a loop that exists only to run sources. */
export function sourceLoopModule(): URL {
  return new URL(`./source-loop${ext}`, import.meta.url);
}

/** `module`'s exports plus the source service, as one loop module. */
export function hostModule(module: URL): URL {
  const service = new URL(`./run-source${ext}`, import.meta.url).href;
  const code = `export * from ${JSON.stringify(module.href)};\nexport { ${SOURCE_SERVICE} } from ${JSON.stringify(service)};\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
