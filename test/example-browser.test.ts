// The newcomer's path: `npm start` (example/server.ts), then Swagger UI in a real browser
// (Debian's chromium driven by playwright-core): Authorize with the password flow as alice,
// "Try it out" on GET /users/me; then, in a fresh browser, with only the API key on GET /items;
// then a page's WebSocket to GET /items/live.
import { after, before, t as root, test, type Test } from 'tap'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { chromium, type Page } from 'playwright-core'
import { SEEDED_MACHINE_USERS } from '../example/schema'

const ROOT = resolve(__dirname, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SCREENSHOT = join(ROOT, '.tap', 'screenshots', 'example-swagger-ui.png') // .tap/ is gitignored
const NO_BROWSER = existsSync(CHROMIUM) || process.env.CI !== undefined ? false : `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run does)`

root.setTimeout(60_000) // the server's start (PGlite) and the browser's, on a slow machine

function within<T> (promise: Promise<T>, label: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

let server: ChildProcessByStdio<null, Readable, Readable>
let exited: Promise<number | null>
let stdout = ''
let stderr = ''
let url = ''

before(async () => {
  // What `npm start` runs, with PORT=0 for a free port (DATABASE_URL, if set, is passed on).
  server = spawn(process.execPath, ['--import', 'tsx', 'example/server.ts'], {
    cwd: ROOT,
    // The example's own coverage is not measured (tsx's source maps would blur lib's).
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  exited = new Promise((resolve) => server.once('exit', (code) => resolve(code)))
  process.once('exit', () => { if (server.exitCode === null) server.kill('SIGKILL') }) // never leave it behind
  server.stderr.on('data', (chunk) => { stderr += chunk })
  url = await within(new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = /fastify-depends example: (http:\/\/\S+)/.exec(stdout)
      if (match !== null) resolve(match[1])
    })
    server.once('exit', (code) => reject(new Error(`the server exited (${code}) before printing its URL:\n${stdout}\n${stderr}`)))
  }), 'the server to print its URL', 45_000)
})

after(async () => {
  if (server.exitCode === null) server.kill('SIGKILL')
  await exited
})

test('`npm start` prints its URL, the Swagger UI address and the seeded users, then serves', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.equal(pkg.scripts.start, 'node --import tsx example/server.ts', 'this test runs what `npm start` runs')
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(stdout, `Swagger UI:  ${url}/docs`)
  t.match(stdout, 'alice / secret (me items:read items:write), bob / secret (me items:read)')
  t.match(stdout, `API keys:    ${SEEDED_MACHINE_USERS[0].apiKey} (reporting-bot: items:read; GET /items)`)
  const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })
  t.equal(health.status, 200)
  t.match(await health.json(), { status: 'ok', connectionsInUse: 0 })
})

/** Swagger UI in a fresh headless chromium (its own profile: nothing authorized yet), closed with the test. */
async function openDocs (t: Test): Promise<{ page: Page, pageErrors: string[] }> {
  const profile = mkdtempSync(join(tmpdir(), 'example-chromium-'))
  t.teardown(() => rmSync(profile, { recursive: true, force: true }))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1200, height: 900 },
    timeout: 20_000
  })
  t.teardown(() => browser.close())
  const page = browser.pages()[0] ?? await browser.newPage()
  page.setDefaultTimeout(10_000)
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(`${url}/docs`)
  return { page, pageErrors }
}

test('Swagger UI in chromium: Authorize as alice with the password flow, then "Try it out" on GET /users/me', { skip: NO_BROWSER }, async (t) => {
  const { page, pageErrors } = await openDocs(t)
  await page.locator('.auth-wrapper button.authorize').click()
  const modal = page.locator('.modal-ux')
  await modal.locator('#oauth_username').fill('alice')
  await modal.locator('#oauth_password').fill('secret')
  await modal.getByText('select all').click()
  const tokenResponse = page.waitForResponse((response) => response.url() === `${url}/token`)
  await modal.getByRole('button', { name: 'Apply given OAuth2 credentials' }).click()
  const token = await tokenResponse
  t.equal(token.status(), 200)
  t.equal((await token.json()).scope, 'me items:read items:write')
  t.equal(new URLSearchParams(token.request().postData() ?? '').get('scope'), 'me items:read items:write', 'the scopes ticked in the dialog')
  await modal.getByRole('button', { name: 'Remove authorization' }).waitFor() // "Logout": authorized
  await modal.getByRole('button', { name: 'Close' }).first().click() // each scheme's section has one

  const operation = page.locator('#operations-users-readUsersMe')
  await operation.locator('.opblock-summary').first().click()
  await operation.getByRole('button', { name: 'Try it out' }).click()
  const meResponse = page.waitForResponse((response) => response.url() === `${url}/users/me`)
  await operation.getByRole('button', { name: 'Execute' }).click()
  t.match((await meResponse).request().headers().authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
  const live = operation.locator('.live-responses-table tbody tr.response') // the server's answer, as shown
  await live.waitFor()
  t.equal((await live.locator('.response-col_status').innerText()).trim(), '200')
  t.match(await live.locator('.response-col_description').innerText(), '"fullName": "Alice Wonderson"')

  mkdirSync(join(ROOT, '.tap', 'screenshots'), { recursive: true })
  await live.scrollIntoViewIfNeeded()
  await operation.screenshot({ path: SCREENSHOT })
  t.comment(`screenshot: ${SCREENSHOT}`)
  t.same(pageErrors, [])
})

test('Swagger UI in chromium: Authorize offers the password flow and the API key; the key alone is enough for GET /items', { skip: NO_BROWSER }, async (t) => {
  const { page, pageErrors } = await openDocs(t)
  await page.locator('.auth-wrapper button.authorize').click()
  const modal = page.locator('.modal-ux')
  // One section per scheme of the API, in the order of components.securitySchemes.
  const sections = modal.locator('.auth-container')
  const headings = (await sections.locator('h4').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim())
  t.same(headings, ['OAuth2PasswordBearer (OAuth2, password)', 'APIKeyHeader (apiKey)'])
  const passwordFlow = sections.filter({ hasText: 'OAuth2PasswordBearer (OAuth2, password)' })
  t.equal(await passwordFlow.locator('#oauth_username').count(), 1, 'the password flow\'s form is there too')
  const keySection = sections.filter({ hasText: 'APIKeyHeader' })
  t.match((await keySection.innerText()).replace(/\s+/g, ' '), 'Name: x-api-key In: header')

  await keySection.locator('#api_key_value').fill(SEEDED_MACHINE_USERS[0].apiKey)
  await keySection.getByRole('button', { name: 'Apply credentials' }).click()
  await keySection.getByRole('button', { name: 'Remove authorization' }).waitFor() // "Logout": authorized
  t.equal(await passwordFlow.getByRole('button', { name: 'Remove authorization' }).count(), 0, 'the token was not asked for')
  await keySection.getByRole('button', { name: 'Close' }).click()

  const operation = page.locator('#operations-items-get_items')
  await operation.locator('.opblock-summary').first().click()
  await operation.getByRole('button', { name: 'Try it out' }).click()
  const itemsResponse = page.waitForResponse((response) => new URL(response.url()).pathname === '/items')
  await operation.getByRole('button', { name: 'Execute' }).click()
  const headers = (await itemsResponse).request().headers()
  t.equal(headers['x-api-key'], SEEDED_MACHINE_USERS[0].apiKey)
  t.equal(headers.authorization, undefined, 'no token: only the API key was authorized')
  const live = operation.locator('.live-responses-table tbody tr.response')
  await live.waitFor()
  t.equal((await live.locator('.response-col_status').innerText()).trim(), '200')
  t.match(await live.locator('.response-col_description').innerText(), '"title": "Teapot"')
  t.same(pageErrors, [])
})

test('chromium: a page opens GET /items/live with the API key in the query, gets its welcome and then an item created meanwhile; without a key the socket is refused', { skip: NO_BROWSER }, async (t) => {
  const { page, pageErrors } = await openDocs(t)
  const wsUrl = url.replace('http:', 'ws:') + '/items/live'
  const refusedCode = await page.evaluate(async (target) => await new Promise<number>((resolve) => {
    const socket = new WebSocket(target)
    socket.onclose = (event) => resolve(event.code)
  }), wsUrl)
  t.equal(refusedCode, 1006, 'no key: the upgrade was answered with 401, the page sees a failed socket')
  await page.evaluate(async (target) => {
    const received: unknown[] = []
    const socket = new WebSocket(target)
    socket.onmessage = (event) => { received.push(JSON.parse(event.data)) }
    Object.assign(globalThis, { live: { socket, received } })
    await new Promise((resolve) => { socket.onopen = resolve })
  }, `${wsUrl}?api_key=${SEEDED_MACHINE_USERS[0].apiKey}`)
  await page.waitForFunction(() => (globalThis as unknown as { live: { received: unknown[] } }).live.received.length === 1)

  const login = await fetch(`${url}/token`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'secret' }), signal: AbortSignal.timeout(5000) })
  const { access_token: token } = await login.json() as { access_token: string }
  const title = `from the browser test ${Date.now().toString(36)}`
  const created = await fetch(`${url}/items`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ title }), signal: AbortSignal.timeout(5000)
  })
  t.equal(created.status, 201)
  await page.waitForFunction(() => (globalThis as unknown as { live: { received: unknown[] } }).live.received.length === 2)
  const { received, closeCode } = await page.evaluate(async () => {
    const live = (globalThis as unknown as { live: { socket: WebSocket, received: unknown[] } }).live
    const closed = new Promise<number>((resolve) => { live.socket.onclose = (event) => resolve(event.code) })
    live.socket.close()
    return { received: live.received, closeCode: await closed }
  })
  t.match(received, [{ type: 'welcome', username: 'reporting-bot' }, { type: 'item', item: { title, owner: 'alice' } }])
  t.equal(closeCode, 1005, 'the browser\'s close() sends no code')
  const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })
  t.match(await health.json(), { connectionsInUse: 0 })
  t.same(pageErrors, [])
})

test('SIGTERM stops the server cleanly', async (t) => {
  server.kill('SIGTERM')
  t.equal(await within(exited, 'the server to exit', 10_000), 0)
  t.equal(stderr, '')
})
