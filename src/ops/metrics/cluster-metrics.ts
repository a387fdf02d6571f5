// One scrape shows the whole gateway. With several workers, the worker that answers
// /metrics asks the primary, which collects every worker's registry (prom-client's
// AggregatorRegistry, over the cluster IPC channel) and sends the text back. Each series
// keeps its `worker` label, so per-worker memory and lag stay visible and counters can be
// summed by the scraper.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'hermes:metrics-request';
const ANSWER = 'hermes:metrics-answer';

interface Answer {
  type: typeof ANSWER;
  id: string;
  text?: string;
  error?: string;
}

/** In a worker: lets the primary collect this registry. */
export function shareWithPrimary(registry: Registry): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries([registry]);
  // prom-client answers the primary's requests only once an AggregatorRegistry exists
  // in the worker (its constructor adds the IPC listener).
  new AggregatorRegistry();
}

/** In the primary: answers a worker's request with every worker's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: string }) => {
    if (msg?.type !== REQUEST || typeof msg.id !== 'string') return;
    const id = msg.id;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id, text } satisfies Answer),
      (err: unknown) => worker.send({ type: ANSWER, id, error: String(err) } satisfies Answer),
    );
  });
}

/** The exposition text of the whole gateway: via the primary in a cluster, else this registry's. */
export async function gatewayMetricsText(own: Registry, timeoutMs = 10_000): Promise<string> {
  if (!cluster.isWorker || !process.send) return own.metrics();
  const id = randomUUID();
  return new Promise<string>((resolve, reject) => {
    const onMessage = (msg: Answer) => {
      if (msg?.type !== ANSWER || msg.id !== id) return;
      done();
      if (msg.text !== undefined) resolve(msg.text);
      else reject(new Error(`the primary could not collect the workers' metrics: ${msg.error}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the primary did not answer a metrics request within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send!({ type: REQUEST, id });
  });
}
