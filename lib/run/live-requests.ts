import type { RequestState } from './request-state'

/**
 * The requests in flight that entered, or may yet enter, generators: `close()` waits for their
 * cleanups (DESIGN §4 "Shutdown"). An intrusive list through the states themselves: adding and
 * removing cost two field writes, no Set or Map entry per request.
 */
export class LiveRequests {
  private head: RequestState | null = null
  count = 0
  private drained: (() => void) | null = null

  add (state: RequestState): void {
    state.live = this
    state.liveNext = this.head
    if (this.head !== null) this.head.livePrevious = state
    this.head = state
    this.count++
  }

  /** The request's cleanups are over (or were abandoned); the caller checks `state.live` first. */
  remove (state: RequestState): void {
    state.live = null
    const previous = state.livePrevious
    const next = state.liveNext
    if (previous === null) this.head = next
    else previous.liveNext = next
    if (next !== null) next.livePrevious = previous
    state.livePrevious = null
    state.liveNext = null
    if (--this.count === 0 && this.drained !== null) this.drained()
  }

  /** Visits every request in flight (`visit` must not remove it). */
  each (visit: (state: RequestState) => void): void {
    for (let state = this.head; state !== null; state = state.liveNext) visit(state)
  }

  /**
   * The server is closing: `done` once every live request released what it holds, or after
   * `timeout` ms, when what still runs is logged with its dependency names and abandoned.
   */
  drain (timeout: number, done: () => void): void {
    if (this.count === 0) {
      done()
      return
    }
    const timer = setTimeout(() => {
      this.drained = null
      this.abandon(timeout)
      done()
    }, timeout)
    this.drained = () => {
      this.drained = null
      clearTimeout(timer)
      done()
    }
  }

  private abandon (timeout: number): void {
    while (this.head !== null) {
      const state = this.head
      const names = state.exits === null ? [] : state.exits.openNames()
      const route = state.plan.route
      const what = names.length > 0 ? `dependency "${names[0]}"` : 'dependency resolution'
      state.request.log.warn(
        { dependency: names[0], dependencies: names, route },
        `fastify-depends: ${what} of ${route} still running ${timeout} ms after close(); abandoned`
      )
      this.remove(state)
    }
  }
}
