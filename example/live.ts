// GET /items/live, a WebSocket: every item created from now on, pushed as it is committed. A browser
// cannot set headers on a WebSocket, so the credentials come in the query string: the OAuth2 access
// token as `access_token`, or a machine user's key as `api_key`.
import type { FastifyInstance } from 'fastify'
import { anyOf, APIKeyQuery, depends, Security } from '../lib/index'
import { authorize, bearerChallenge, userOfApiKey, userOfToken, type User } from './auth'
import { getShortDb } from './db'
import type { Item } from './items'

declare module 'fastify' {
  interface FastifyInstance {
    /** New items, announced once committed (example/live.ts). */
    itemFeed: ItemFeed
  }
}

/** Who is told about new items. In-process: with several instances, a broker (or LISTEN/NOTIFY) would carry this. */
export class ItemFeed {
  private readonly listeners = new Set<(item: Item) => void>()

  get listening (): number {
    return this.listeners.size
  }

  publish (item: Item): void {
    for (const listener of this.listeners) listener(item)
  }

  /** Until `close()`. */
  subscribe (listener: (item: Item) => void): { close: () => void } {
    this.listeners.add(listener)
    return { close: () => { this.listeners.delete(listener) } }
  }
}

export const tokenInQuery = APIKeyQuery({
  name: 'access_token', schemeName: 'accessTokenQuery', description: 'The OAuth2 access token, for WebSocket clients (a browser cannot set headers on one)'
})
export const keyInQuery = APIKeyQuery({ name: 'api_key', schemeName: 'apiKeyQuery', description: 'A machine user\'s API key, for WebSocket clients' })

/** The user of the token or the key in the query string, checked like `currentPrincipal` checks the headers. */
export const liveViewer = depends({ caller: anyOf(tokenInQuery, keyInQuery), db: getShortDb }, async ({ caller, db }, { request, securityScopes }): Promise<User> => {
  if (caller.scheme === 'accessTokenQuery') {
    return authorize(await userOfToken(db, request.server.tokens, caller.value), securityScopes, bearerChallenge(securityScopes))
  }
  return authorize(await userOfApiKey(db, caller.value), securityScopes, 'APIKey')
}, { name: 'liveViewer' })

/**
 * The socket's subscription to the feed. Request scope: on a WebSocket route it lasts as long as the
 * socket, and the `finally` unsubscribes however the socket ends (closed, dropped, the app closing).
 */
export const newItems = depends(function * newItems (_inputs, { request }) {
  const pending: Item[] = []
  let deliver: ((item: Item) => void) | null = null
  const subscription = request.server.itemFeed.subscribe((item) => {
    if (deliver === null) pending.push(item)
    else deliver(item)
  })
  try {
    yield {
      /** Items committed since the subscription began, then each new one. */
      forEach (callback: (item: Item) => void): void {
        deliver = callback
        for (const item of pending.splice(0)) callback(item)
      }
    }
  } finally {
    subscription.close()
  }
}, { scope: 'request' })

const liveDeps = { user: Security(liveViewer, ['items:read']), items: newItems }

export async function liveRoutes (app: FastifyInstance): Promise<void> {
  app.get('/items/live', { websocket: true, dependencies: liveDeps }, (socket, request) => {
    const { user, items } = request.deps
    socket.send(JSON.stringify({ type: 'welcome', username: user.username }))
    items.forEach((item) => { socket.send(JSON.stringify({ type: 'item', item })) })
  })
}
