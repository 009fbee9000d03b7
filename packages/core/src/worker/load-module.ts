/** Loads the loop module, turning the runtime's TypeScript refusals into an error that says what to do. */
const TS_CODES = new Set(['ERR_UNKNOWN_FILE_EXTENSION', 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_NO_TYPESCRIPT', 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING']);

export async function loadModule(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (/\.[mc]?ts$/.test(new URL(url).pathname) && TS_CODES.has((error as { code?: string }).code ?? '')) {
      throw new TypeError(
        `Cannot load the TypeScript loop module ${url} on Node ${process.version}: ${(error as Error).message}. ` +
          'Use Node >= 22.18 (type stripping, erasable syntax only), run under tsx (`node --import tsx`), or compile it to .js.',
        { cause: error },
      );
    }
    throw error;
  }
}

/** The reserved exports: sideloop calls them, callers cannot. */
export const RESERVED_EXPORTS: ReadonlySet<string> = new Set(['init', 'dispose', 'health']);

/** The callable exports (every exported function but the reserved ones), which are generators, and whether `health` is. */
export function describeExports(mod: Record<string, unknown>): { exports: string[]; generators: string[]; health: boolean } {
  const exports: string[] = [];
  const generators: string[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value !== 'function' || RESERVED_EXPORTS.has(name)) continue;
    exports.push(name);
    if (value.constructor?.name === 'AsyncGeneratorFunction' || value.constructor?.name === 'GeneratorFunction') generators.push(name);
  }
  return { exports, generators, health: typeof mod.health === 'function' };
}
