// mitata is ESM-only: loaded with import() from these CommonJS modules.
export interface Timing {
  readonly name: string
  /** Nanoseconds per iteration. */
  readonly avg: number
  readonly p50: number
  readonly p99: number
}

export interface Measurer {
  time (name: string, fn: () => unknown): Promise<Timing>
}

export async function measurer (quick: boolean): Promise<Measurer> {
  const { measure, do_not_optimize: keep } = await import('mitata')
  const options = quick ? { min_cpu_time: 50e6 } : { min_cpu_time: 1000e6 }
  return {
    async time (name, fn) {
      const sample = (): unknown => {
        const result = fn()
        keep(result)
        return result
      }
      const stats = await measure(sample, options)
      return { name, avg: stats.avg, p50: stats.p50, p99: stats.p99 }
    }
  }
}

/** Runs `fn` `count` times, yielding to the event loop every `every` calls (DESIGN §12). */
export async function repeat (count: number, fn: () => Promise<unknown>, every = 100): Promise<void> {
  const { setImmediate: yieldToLoop } = await import('node:timers/promises')
  for (let i = 1; i <= count; i++) {
    await fn()
    if (i % every === 0) await yieldToLoop()
  }
}
