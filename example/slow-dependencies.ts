// Logs dependencies slower than a threshold, from the plugin's diagnostics_channel tracing:
// the way an APM would subscribe. Nothing is published, nor allocated, while nobody listens.
import type { FastifyBaseLogger } from 'fastify'
import { resolveChannel, cleanupChannel, type DependencyTraceContext } from '../lib/index'

/** Starts logging slow resolutions and cleanups with `logger` (pino); returns the unsubscribe function. */
export function logSlowDependencies (logger: FastifyBaseLogger, thresholdMs: number): () => void {
  const report = (phase: 'resolve' | 'cleanup') => (context: DependencyTraceContext): void => {
    if (context.duration !== undefined && context.duration >= thresholdMs) {
      logger.warn({ dependency: context.dependency, route: context.route, reqId: context.requestId, phase, durationMs: Math.round(context.duration * 100) / 100 }, `slow dependency "${context.dependency}"`)
    }
  }
  const noop = (): void => {}
  const handlers = (phase: 'resolve' | 'cleanup') => ({ start: noop, asyncStart: noop, error: noop, end: report(phase), asyncEnd: report(phase) })
  const resolveHandlers = handlers('resolve')
  const cleanupHandlers = handlers('cleanup')
  resolveChannel.subscribe(resolveHandlers as never)
  cleanupChannel.subscribe(cleanupHandlers as never)
  return () => {
    resolveChannel.unsubscribe(resolveHandlers as never)
    cleanupChannel.unsubscribe(cleanupHandlers as never)
  }
}
