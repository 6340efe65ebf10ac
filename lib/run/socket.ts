import type { FastifyRequest } from 'fastify'
import { DependencyClientAbortError } from '../errors'
import { kRequestState } from '../symbols'
import { asError, type ExitStack } from './exit-stack'
import { release, requestScopeIfDue } from './lifecycle'
import type { LiveRequests } from './live-requests'
import { Stage, type RequestState } from './request-state'
import { isThenable } from './thenable'

/*
 * WebSocket routes (`@fastify/websocket`, DESIGN §14). Resolution runs on the upgrade request like
 * on any route; the socket handler then stands in for the response: function scope ends when the
 * handler returns or its promise settles, request scope when the socket closes. A normal close
 * (1000, 1001, or 1005: a close frame without a code, what a browser's `close()` sends) is the
 * success path; any other end, or `close()` of the app, throws FST_DEPENDS_CLIENT_ABORTED in. A
 * handler that throws or rejects is the error path: its error goes through the generators, then
 * it is logged and the socket closed with 1011.
 */

/** What the plugin uses of a `ws` WebSocket (`ws` is not imported: it is an optional peer). */
export interface OpenSocket {
  readonly readyState: number
  close (code?: number, reason?: string): void
  on (event: 'close', listener: (this: OpenSocket, code: number) => void): unknown
}

type SocketHandler = (this: unknown, socket: OpenSocket, request: FastifyRequest) => unknown
type StatefulRequest = FastifyRequest & { [kRequestState]?: RequestState | null }
type WatchedSocket = OpenSocket & { [kRequestState]?: RequestState }

const OPEN = 1
const CLOSED = 3
const GOING_AWAY = 1001
const INTERNAL_ERROR = 1011

function isNormalClose (code: number): boolean {
  return code === 1000 || code === GOING_AWAY || code === 1005
}

/**
 * The socket handler of a route, wrapped where the registration guard first sees the route (before
 * `@fastify/websocket` takes it, whichever of the two plugins was registered first).
 */
export function wrapSocketHandler (handler: SocketHandler): SocketHandler {
  return function socketHandlerWithDependencies (this: unknown, socket: OpenSocket, request: FastifyRequest) {
    const state = (request as StatefulRequest)[kRequestState]
    // A route without dependencies, or an app without the plugin.
    if (state == null) return handler.call(this, socket, request)
    socketOpened(state, socket)
    let result: unknown
    try {
      result = handler.call(this, socket, request)
    } catch (err) {
      socketHandlerFailed(state, err)
      return
    }
    if (!isThenable(result)) {
      socketHandlerEnded(state)
      return
    }
    return Promise.resolve(result).then(() => { socketHandlerEnded(state) }, (err: unknown) => { socketHandlerFailed(state, err) })
  }
}

function socketOpened (state: RequestState, socket: OpenSocket): void {
  state.socket = socket
  state.handlerRunning = true
  ;(socket as WatchedSocket)[kRequestState] = state
  socket.on('close', onSocketClose)
}

function onSocketClose (this: WatchedSocket, code: number): void {
  socketClosed(this[kRequestState] as RequestState, code)
}

function socketHandlerEnded (state: RequestState): void {
  state.handlerRunning = false
  state.stage = Stage.Responding
  const exits = state.exits
  if (exits === null) requestScopeIfDue(state)
  else exits.unwind(false, afterFunctionScope, undefined, undefined)
}

function afterFunctionScope (exits: ExitStack): void {
  // A function-scoped cleanup threw: the error path, as if the handler had.
  if (exits.failing) socketFailed(exits.state, exits.error)
  else requestScopeIfDue(exits.state)
}

function socketHandlerFailed (state: RequestState, err: unknown): void {
  state.handlerRunning = false
  socketFailed(state, err)
}

function socketFailed (state: RequestState, err: unknown): void {
  state.stage = Stage.Finished
  state.exitError = err
  state.exitFailed = true
  const exits = state.exits
  if (exits === null) closeWithError(state, asError(err))
  else exits.unwindThrowing(err, true, afterFailure, undefined, undefined)
}

function afterFailure (exits: ExitStack): void {
  closeWithError(exits.state, exits.finalError())
  release(exits.state)
}

function closeWithError (state: RequestState, err: unknown): void {
  state.request.log.error({ err }, 'fastify-depends: the WebSocket handler failed')
  const socket = state.socket as OpenSocket
  if (socket.readyState === OPEN) socket.close(INTERNAL_ERROR)
}

function socketClosed (state: RequestState, code: number): void {
  state.responseEnded = true
  if (state.serverClosing) {
    state.aborted = true
    state.endError = new DependencyClientAbortError('The server closed while the WebSocket was open')
  } else if (!isNormalClose(code)) {
    state.aborted = true
    state.endError = new DependencyClientAbortError(`The WebSocket closed with code ${code}`)
  }
  requestScopeIfDue(state)
}

/**
 * `close()` of the app: open sockets of requests holding generators are closed with 1001 (the
 * drain that follows waits for their cleanups); their request scope sees an abort.
 */
export function closeOpenSockets (live: LiveRequests): void {
  live.each(closeForShutdown)
}

function closeForShutdown (state: RequestState): void {
  const socket = state.socket
  if (socket === null || socket.readyState === CLOSED) return
  state.serverClosing = true
  if (socket.readyState === OPEN) socket.close(GOING_AWAY, 'server closing')
}
