// The example's GET /items/live WebSocket, over real sockets against PGlite (or DATABASE_URL): the
// credentials in the query string, new items pushed once committed, nothing of a rolled-back
// write, and nothing held once the socket is gone (subscription, connections).
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { after, before, t as root, test } from 'tap'
import WebSocket from 'ws'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../example/app'
import { openDatabase, type Database } from '../example/db'
import { SEEDED_MACHINE_USERS } from '../example/schema'
import { within } from './helpers'

root.setTimeout(60_000)
const SECRET = 'example-live-test-secret'
const RUN = Date.now().toString(36)

let database: Database
let app: FastifyInstance
let base: string

before(async () => {
  database = await openDatabase()
  app = await buildApp({ database, tokens: { secret: SECRET } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  // tap runs `after` once the process would exit: a listening server must not hold it.
  app.server.unref()
  base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
})
after(async () => {
  await app?.close()
  await database?.close()
})

async function login (username: string, scope?: string): Promise<string> {
  const payload: Record<string, string> = { username, password: 'secret' }
  if (scope !== undefined) payload.scope = scope
  const res = await app.inject({ method: 'POST', url: '/token', payload: new URLSearchParams(payload).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  return res.json().access_token
}

interface Live { client: WebSocket, next: () => Promise<Record<string, unknown>> }

/** A socket to /items/live whose messages are kept from the first (the welcome comes with the upgrade). */
async function live (query: string): Promise<Live> {
  const client = new WebSocket(`ws://${base}/items/live?${query}`)
  const messages: Array<Record<string, unknown>> = []
  const waiting: Array<(message: Record<string, unknown>) => void> = []
  client.on('message', (data) => {
    const message = JSON.parse(String(data))
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(message)
    else messages.push(message)
  })
  await within(once(client, 'open'), 'the socket to open')
  const next = (): Promise<Record<string, unknown>> => {
    const message = messages.shift()
    if (message !== undefined) return Promise.resolve(message)
    return within(new Promise((resolve) => waiting.push(resolve)), 'a message')
  }
  return { client, next }
}

async function refused (query: string): Promise<{ status: number, challenge: unknown, body: { message: string } }> {
  const client = new WebSocket(`ws://${base}/items/live?${query}`)
  return await within(new Promise((resolve, reject) => {
    client.on('open', () => reject(new Error('the socket opened')))
    client.on('error', () => {})
    client.on('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk) => { body += String(chunk) })
      response.on('end', () => resolve({ status: response.statusCode as number, challenge: response.headers['www-authenticate'], body: JSON.parse(body) }))
    })
  }), 'the refusal')
}

async function createItem (token: string, title: string): Promise<{ statusCode: number, id?: number }> {
  const res = await app.inject({ method: 'POST', url: '/items', headers: { authorization: `Bearer ${token}` }, payload: { title } })
  return { statusCode: res.statusCode, id: res.json().id }
}

async function idleConnections (): Promise<void> {
  const deadline = Date.now() + 5000
  while (database.inUse > 0) {
    if (Date.now() > deadline) throw new Error(`${database.inUse} connection(s) still in use`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Nothing held: every connection given back, no subscription left. */
async function idle (): Promise<void> {
  const deadline = Date.now() + 5000
  while (database.inUse > 0 || app.itemFeed.listening > 0) {
    if (Date.now() > deadline) throw new Error(`${database.inUse} connection(s), ${app.itemFeed.listening} subscription(s) left`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('GET /items/live refuses the upgrade without valid credentials: 401 with the challenge, no socket', async (t) => {
  const none = await refused('')
  t.same([none.status, none.challenge, none.body.message], [401, 'APIKey', 'Not authenticated'])
  const forged = await refused('access_token=not-a-jwt')
  t.same([forged.status, forged.challenge, forged.body.message], [401, 'Bearer scope="items:read"', 'Could not validate credentials'])
  const meOnly = await refused(`access_token=${await login('alice', 'me')}`)
  t.same([meOnly.status, meOnly.body.message], [401, 'Not enough permissions'])
  const wrongKey = await refused('api_key=nope')
  t.same([wrongKey.status, wrongKey.challenge], [401, 'APIKey'])
  await idle()
})

test('GET /items/live with the access token in the query: welcome, then each item once committed, none of a rolled-back write; nothing held while open', async (t) => {
  const alice = await login('alice')
  const { client, next } = await live(`access_token=${alice}`)
  t.same(await next(), { type: 'welcome', username: 'alice' })
  // The upgrade's queries ran in function scope: once it ended (COMMIT, release, right after the
  // handler returned), the open socket holds no connection.
  await idleConnections()
  t.equal(client.readyState, WebSocket.OPEN)
  t.equal(app.itemFeed.listening, 1)

  const first = await createItem(alice, `live one ${RUN}`)
  t.equal(first.statusCode, 201)
  t.match(await next(), { type: 'item', item: { id: first.id, title: `live one ${RUN}`, owner: 'alice' } })

  // A bulk write that fails on its second item (a title alice already has) rolls back: nothing is announced.
  const bulk = await app.inject({
    method: 'POST',
    url: '/items/bulk',
    headers: { authorization: `Bearer ${alice}` },
    payload: { items: [{ title: `live rolled back ${RUN}` }, { title: `live one ${RUN}` }] }
  })
  t.equal(bulk.statusCode, 409)
  const second = await createItem(alice, `live two ${RUN}`)
  t.match(await next(), { type: 'item', item: { id: second.id, title: `live two ${RUN}` } }, 'the next message is the next committed item')

  client.close(1000)
  await once(client, 'close')
  await idle()
})

test('GET /items/live with a machine user\'s API key; the app closing ends the socket and its subscription', async (t) => {
  const { client, next } = await live(`api_key=${SEEDED_MACHINE_USERS[0].apiKey}`)
  t.same(await next(), { type: 'welcome', username: 'reporting-bot' })
  const other = await buildApp({ tokens: { secret: SECRET } })
  await other.listen({ port: 0, host: '127.0.0.1' })
  const port = (other.server.address() as AddressInfo).port
  const socket = new WebSocket(`ws://127.0.0.1:${port}/items/live?api_key=${SEEDED_MACHINE_USERS[0].apiKey}`)
  await within(once(socket, 'open'), 'the socket to open')
  t.equal(other.itemFeed.listening, 1)
  const closed = once(socket, 'close')
  await within(other.close(), 'close() with a socket open')
  t.equal(other.itemFeed.listening, 0)
  t.equal((await closed)[0], 1001)
  client.close()
  await once(client, 'close')
  await idle()
})
