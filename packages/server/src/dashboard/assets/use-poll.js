// Reads a JSON API path now and every `ms` while the page is open: { data, error }. A failed read keeps the last data;
// an answer equal to the last one changes nothing, so the page renders only when something did.
import { useEffect, useState } from 'preact/hooks';

export function usePoll(request, path, ms) {
  const [result, setResult] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let stopped = false;
    let timer;
    let last;
    const show = (data, error) => {
      const text = JSON.stringify([data, error]);
      if (stopped || text === last) return;
      last = text;
      setResult((old) => ({ data: data === undefined ? old.data : data, error }));
    };
    async function read() {
      try {
        show(await request(path), undefined);
      } catch (err) {
        // /api/health answers 503 with the same report when unhealthy: that is data, not a failed read.
        const report = err.status === 503 && err.body?.status ? err.body : undefined;
        show(report, report ? undefined : err.message);
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
