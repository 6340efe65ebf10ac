// The newcomer's path: `npm start` (example/server.ts), then Swagger UI in a real browser
// (Debian's chromium driven by playwright-core): Authorize with the password flow as alice,
// "Try it out" on GET /users/me.
import { after, before, t as root, test } from 'tap'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { chromium } from 'playwright-core'

const ROOT = resolve(__dirname, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SCREENSHOT = join(ROOT, '.tap', 'screenshots', 'example-swagger-ui.png') // .tap/ is gitignored

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
  const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })
  t.equal(health.status, 200)
  t.match(await health.json(), { status: 'ok', connectionsInUse: 0 })
})

test('Swagger UI in chromium: Authorize as alice with the password flow, then "Try it out" on GET /users/me', { skip: existsSync(CHROMIUM) || process.env.CI !== undefined ? false : `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run does)` }, async (t) => {
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
  await modal.getByRole('button', { name: 'Close' }).click()

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

test('SIGTERM stops the server cleanly', async (t) => {
  server.kill('SIGTERM')
  t.equal(await within(exited, 'the server to exit', 10_000), 0)
  t.equal(stderr, '')
})
