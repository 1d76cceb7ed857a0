import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

/** The request a piece of work runs for: an API request, or an activity of a workflow it started. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/** The levels LOG_LEVEL may name (validated with the rest of the configuration). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const level = (LOG_LEVELS as readonly string[]).includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL! : 'info';

/**
 * The process's one logger: JSON lines (pino) at LOG_LEVEL, to stdout or LOG_FILE; every line
 * carries the request id of the work it belongs to. Each process names itself (`service`).
 */
export const log = pino(
  { level, mixin: () => { const ctx = requestContext.getStore(); return ctx ? { requestId: ctx.requestId } : {}; } },
  process.env.LOG_FILE ? pino.destination({ dest: process.env.LOG_FILE, append: true, mkdir: true, sync: true }) : undefined,
);

/** The Temporal SDK's own log lines (worker, workflows, activities, Core) through the same logger. */
export function temporalLogger(): TemporalLogger {
  const at = (lvl: LogLevel) => (message: string, meta?: LogMetadata) => {
    const target = lvl === 'TRACE' ? 'trace' : lvl.toLowerCase() as 'debug' | 'info' | 'warn' | 'error';
    log[target]({ sdk: true, ...meta }, message);
  };
  return { log: (lvl, message, meta) => at(lvl)(message, meta), trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}
