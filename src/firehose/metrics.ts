import { Counter, Gauge, type Registry } from 'prom-client';

/** What the consumer counts, as Prometheus metrics (records/s is the rate of the counter). */
export function consumerMetrics(registry: Registry | undefined, read: { cursor: () => number | undefined; latestSeen: () => number | undefined; inFlight: () => number; cursorMovedAt: () => number }) {
  const registers = registry ? [registry] : [];
  const records = new Counter({
    name: 'meetflow_firehose_records_total', help: 'Calendar records of the stream by outcome (handed_off, dead_lettered, retried)',
    labelNames: ['outcome'], registers,
  });
  const paused = new Counter({ name: 'meetflow_firehose_paused_total', help: 'Times reading stopped at FIREHOSE_MAX_IN_FLIGHT', registers });
  new Gauge({ name: 'meetflow_firehose_cursor', help: 'The last sequence number saved (everything up to it is handed off)', registers,
    collect() { this.set(read.cursor() ?? 0); } });
  new Gauge({ name: 'meetflow_firehose_lag_events', help: 'Sequence numbers delivered by the stream and not yet behind the cursor', registers,
    collect() { const seen = read.latestSeen(); this.set(seen === undefined ? 0 : Math.max(0, seen - (read.cursor() ?? seen))); } });
  new Gauge({ name: 'meetflow_firehose_in_flight', help: 'Events held (being handled or retried)', registers,
    collect() { this.set(read.inFlight()); } });
  new Gauge({ name: 'meetflow_firehose_cursor_age_seconds', help: 'Seconds since the cursor last moved (grows while the stream is quiet or stuck)', registers,
    collect() { this.set((Date.now() - read.cursorMovedAt()) / 1000); } });
  return {
    handedOff: () => records.inc({ outcome: 'handed_off' }),
    deadLettered: () => records.inc({ outcome: 'dead_lettered' }),
    retried: () => records.inc({ outcome: 'retried' }),
    paused: () => paused.inc(),
  };
}
