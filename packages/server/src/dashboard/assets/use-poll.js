// Reads a JSON API path now and every `ms` while the page is open: { data, error }. A failed read keeps the last data.
import { useEffect, useState } from 'preact/hooks';

export function usePoll(request, path, ms) {
  const [result, setResult] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let stopped = false;
    let timer;
    async function read() {
      try {
        const data = await request(path);
        if (!stopped) setResult({ data, error: undefined });
      } catch (err) {
        // /api/health answers 503 with the same report when unhealthy: that is data, not a failed read.
        const report = err.status === 503 && err.body?.status ? err.body : undefined;
        if (!stopped) setResult((old) => (report ? { data: report, error: undefined } : { data: old.data, error: err.message }));
      }
      if (!stopped) timer = setTimeout(read, ms);
    }
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [path, ms]);
  return result;
}
