// The package as users install it: `npm pack`, then fresh projects outside the repository with
// only what a user installs (no devDependencies to hide a missing runtime dependency), each
// compiling and running README's first example verbatim and type probes, in every module setup.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

// npm installs from its cache when it can (`npm ci` filled it): the versions the repository tests.
function installed (name: string): string {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
}

/** README's first fenced `ts` block, as written. */
export function readmeFirstExample (): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const match = /```ts\n([\s\S]*?)```/.exec(readme)
  if (match === null) throw new Error('README.md has no ts block')
  return match[1]
}

const esmProbes = `
import Fastify from 'fastify'
import fastifyDepends, { anyOf, depends, Depends, Security, Query, OAuth2PasswordBearer, HTTPBasic, APIKeyHeader, type InferDeps, type DependencyValue } from 'fastify-depends'
import { Type } from 'typebox'
import { Type as LegacyType } from '@sinclair/typebox'

const user = depends(() => ({ name: 'alice', admin: true }))
const limit = Query('limit', Type.Integer())
const legacyLimit = Query('limit', LegacyType.Integer())
const bearer = OAuth2PasswordBearer({ tokenUrl: '/token' })
const lenient = HTTPBasic({ autoError: false })

export const probes = {
  limit: 0 as DependencyValue<typeof limit> satisfies number,
  legacyLimit: 0 as DependencyValue<typeof legacyLimit> satisfies number,
  token: '' as DependencyValue<typeof bearer> satisfies string,
  basic: undefined as DependencyValue<typeof lenient> satisfies { username: string } | undefined
}
// @ts-expect-error a query integer is a number, not a string
export const wrong: string = 0 as DependencyValue<typeof limit>

const caller = anyOf(Security(bearer, ['me']), APIKeyHeader({ name: 'x-api-key' }))
export const described = depends({ caller }, ({ caller }) => {
  if (caller.scheme === 'OAuth2PasswordBearer') return caller.value.toUpperCase()
  // @ts-expect-error an API key is a string, not credentials
  void caller.value.username
  return caller.value
})

const deps = { user: Security(user, ['me']), limit, again: Depends(limit, { useCache: false }) }
const app = Fastify()
await app.register(fastifyDepends)
app.get<{ Deps: InferDeps<typeof deps> }>('/', { dependencies: deps }, async (request) => {
  const name: string = request.deps.user.name
  const n: number = request.deps.limit
  // @ts-expect-error the user has no email
  void request.deps.user.email
  return { name, n, again: request.deps.again }
})
// request.deps inferred from the dependencies option, without a generic
app.get('/inferred', { dependencies: { user, limit } }, async (request) => {
  const name: string = request.deps.user.name
  const n: number = request.deps.limit
  return { name, n }
})
const answer = await app.inject('/?limit=5')
console.log(answer.body)
await app.close()
`

const cjsProbes = `
import Fastify from 'fastify'
import fastifyDepends, { depends, Query, type InferDeps, type DependencyValue } from 'fastify-depends'
import { Type } from '@sinclair/typebox'

const limit = Query('limit', Type.Integer())
// @ts-expect-error a query integer is a number, not a string
export const wrong: string = 0 as DependencyValue<typeof limit>

async function main (): Promise<void> {
  const user = depends(() => ({ name: 'alice' }))
  const deps = { user, limit }
  const app = Fastify()
  await app.register(fastifyDepends)
  app.get<{ Deps: InferDeps<typeof deps> }>('/', { dependencies: deps }, async (request) => {
    const n: number = request.deps.limit
    return { name: request.deps.user.name, n }
  })
  const answer = await app.inject('/?limit=5')
  console.log(answer.body)
  await app.close()
}
void main()
`

const cjsScript = `'use strict'
const fastifyDepends = require('fastify-depends')
const { depends, Query } = require('fastify-depends')
const Fastify = require('fastify')

const app = Fastify()
const limit = Query('limit', { type: 'integer', default: 20 })
app.register(fastifyDepends).after(() => {
  app.get('/', { dependencies: { limit, one: depends(() => 1) } }, async (request) => request.deps)
})
app.inject('/?limit=5').then(async (answer) => {
  console.log(answer.body)
  await app.close()
})
`

const esmScript = `import fastifyDepends, { depends, Query } from 'fastify-depends'
import Fastify from 'fastify'

const app = Fastify()
await app.register(fastifyDepends)
app.get('/', { dependencies: { limit: Query('limit', { type: 'integer', default: 20 }), one: depends(() => 1) } }, async (request) => request.deps)
const answer = await app.inject('/?limit=5')
console.log(answer.body)
await app.close()
`

// skipLibCheck off where the package's own declarations must hold up to a full check.
const socketProbe = `
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import WebSocket from 'ws'
import { once } from 'node:events'
import fastifyDepends, { APIKeyQuery, depends } from 'fastify-depends'

const events: string[] = []
const session = depends(async function * () {
  events.push('enter')
  yield { greet: (text: string) => text }
  events.push('exit')
}, { scope: 'request' })
const key = APIKeyQuery({ name: 'api_key' })
const app = Fastify()
await app.register(fastifyDepends)
await app.register(websocket)
app.get('/live', { websocket: true, dependencies: { session, key } }, (socket, request) => {
  // @ts-expect-error the key is a string
  void (request.deps.key satisfies number)
  socket.on('message', (data) => { socket.send(\`\${request.deps.key} \${request.deps.session.greet(String(data))}\`) })
})
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
const refused = new WebSocket(\`ws://127.0.0.1:\${port}/live\`)
refused.on('error', () => {})
const [, response] = await once(refused, 'unexpected-response')
const client = new WebSocket(\`ws://127.0.0.1:\${port}/live?api_key=k1\`)
await once(client, 'open')
client.send('hello')
const [message] = await once(client, 'message')
client.close(1000)
await once(client, 'close')
while (events.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
await app.close()
console.log(JSON.stringify({ message: String(message), refused: response.statusCode, events }))
`

const strict = { strict: true, target: 'ES2022', skipLibCheck: true, noEmitOnError: true, types: ['node'] }
const checked = { ...strict, skipLibCheck: false }

interface Project {
  readonly name: string
  readonly type: 'module' | 'commonjs'
  readonly compilerOptions: Record<string, unknown>
  readonly files: Record<string, string>
  /** The file node runs after tsc (a `.js` output or a JavaScript file), with its expected output. */
  readonly runs: Record<string, unknown>
}

function projects (): Project[] {
  const readme = readmeFirstExample()
  return [
    {
      name: 'esm-nodenext',
      type: 'module',
      compilerOptions: { ...checked, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' },
      files: { 'readme.ts': readme, 'probes.ts': esmProbes },
      runs: { 'out/probes.js': { name: 'alice', n: 5, again: 5 } }
    },
    {
      name: 'esm-node16',
      type: 'module',
      compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16', noEmit: true },
      files: { 'readme.ts': readme, 'probes.ts': esmProbes },
      runs: {}
    },
    {
      name: 'bundler',
      type: 'module',
      compilerOptions: { ...strict, module: 'preserve', moduleResolution: 'bundler', noEmit: true },
      files: { 'readme.ts': readme, 'probes.ts': esmProbes },
      runs: {}
    },
    {
      name: 'cjs-node16',
      type: 'commonjs',
      compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16', esModuleInterop: true, outDir: 'out' },
      files: { 'probes.ts': cjsProbes },
      runs: { 'out/probes.js': { name: 'alice', n: 5 } }
    },
    {
      name: 'cjs-node10',
      type: 'commonjs',
      compilerOptions: { ...strict, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true, noEmit: true },
      files: { 'probes.ts': cjsProbes },
      runs: {}
    },
    {
      name: 'cjs-javascript',
      type: 'commonjs',
      compilerOptions: {},
      files: { 'index.js': cjsScript },
      runs: { 'index.js': { limit: 5, one: 1 } }
    }
  ]
}

t.setTimeout(10 * 60 * 1000)

t.test('the packed tarball installs and works in fresh projects of every module setup', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'fastify-depends-consumer-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const { stdout: packed } = await run(npm, ['pack', '--silent', '--pack-destination', base], { cwd: root })
  const tarball = join(base, packed.trim().split('\n').pop() as string)

  await t.test('with only fastify beside it (no TypeBox, plain JSON Schema), require() and import both work', async (t) => {
    const bare = join(base, 'bare')
    mkdirSync(bare)
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true }))
    await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `fastify@${installed('fastify')}`], { cwd: bare, maxBuffer: 16 * 1024 * 1024 })
    const { stdout: tree } = await run(npm, ['ls', '--all', '--parseable'], { cwd: bare, maxBuffer: 16 * 1024 * 1024 })
    t.notMatch(tree, /typebox/, 'no TypeBox is installed')
    writeFileSync(join(bare, 'index.cjs'), cjsScript)
    writeFileSync(join(bare, 'index.mjs'), esmScript)
    for (const file of ['index.cjs', 'index.mjs']) {
      const { stdout } = await run(process.execPath, [join(bare, file)], { cwd: bare })
      t.strictSame(JSON.parse(stdout), { limit: 5, one: 1 }, `node ${file}`)
    }
  })

  await t.test('with @fastify/websocket beside it: a typed websocket route with dependencies compiles (skipLibCheck off) and serves a socket', async (t) => {
    const dir = join(base, 'websocket')
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'websocket', private: true, type: 'module' }))
    await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `fastify@${installed('fastify')}`,
      `@fastify/websocket@${installed('@fastify/websocket')}`, `ws@${installed('ws')}`, `@types/ws@${installed('@types/ws')}`,
      `typescript@${installed('typescript')}`, `@types/node@${installed('@types/node')}`], { cwd: dir, maxBuffer: 16 * 1024 * 1024 })
    writeFileSync(join(dir, 'socket.ts'), socketProbe)
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...checked, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' }, include: ['*.ts'] }))
    const compiled = await run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir }).then(() => '', (err) => String(err.stdout) + String(err.stderr))
    t.equal(compiled, '', 'tsc reports no error (and every @ts-expect-error is an error)')
    const { stdout } = await run(process.execPath, [join(dir, 'out', 'socket.js')], { cwd: dir })
    t.strictSame(JSON.parse(stdout), { message: 'k1 hello', refused: 401, events: ['enter', 'exit'] })
  })

  // One install shared by the projects below it: a user's dependencies, nothing from this repository.
  writeFileSync(join(base, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball,
    `fastify@${installed('fastify')}`, `typebox@${installed('typebox')}`, `@sinclair/typebox@${installed('@sinclair/typebox')}`,
    `typescript@${installed('typescript')}`, `@types/node@${installed('@types/node')}`], { cwd: base, maxBuffer: 16 * 1024 * 1024 })
  const tsc = join(base, 'node_modules', 'typescript', 'bin', 'tsc')

  const { stdout: tree } = await run(npm, ['ls', '--all', '--parseable'], { cwd: base, maxBuffer: 16 * 1024 * 1024 })
  t.notMatch(tree, /node_modules[\\/](tap|tsx|@fastify[\\/]swagger)(\n|$)/, 'no devDependency of the repository came along')

  // Compiled side by side (tsc is the slow part), then checked one project at a time.
  const all = projects()
  const compiled = await Promise.all(all.map(async (project) => {
    const dir = join(base, project.name)
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: project.name, private: true, type: project.type }))
    for (const [file, text] of Object.entries(project.files)) writeFileSync(join(dir, file), text)
    if (Object.keys(project.compilerOptions).length === 0) return undefined
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: project.compilerOptions, include: ['*.ts'] }))
    return run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(() => '', (err) => String(err.stdout) + String(err.stderr))
  }))
  for (const [index, project] of all.entries()) {
    await t.test(project.name, async (t) => {
      const dir = join(base, project.name)
      if (compiled[index] !== undefined) t.equal(compiled[index], '', 'tsc reports no error (and every @ts-expect-error is an error)')
      for (const [file, expected] of Object.entries(project.runs)) {
        const { stdout } = await run(process.execPath, [join(dir, file)], { cwd: dir })
        t.strictSame(JSON.parse(stdout), expected, `node ${file}`)
      }
    })
  }

  await t.test('README\'s first example, compiled in the ESM project, serves /me', async (t) => {
    const dir = join(base, 'esm-nodenext')
    const port = 30000 + Math.floor(Math.random() * 20000)
    const server = spawn(process.execPath, [join(dir, 'out', 'readme.js')], { cwd: dir, env: { ...process.env, PORT: String(port) }, stdio: 'pipe' })
    t.teardown(() => { server.kill() })
    const url = `http://127.0.0.1:${port}/me?limit=3`
    const deadline = Date.now() + 20_000
    let answer: Response | undefined
    while (answer === undefined && Date.now() < deadline) {
      answer = await fetch(url, { headers: { authorization: 'Bearer token-of-alice' } }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 100))
        return undefined
      })
    }
    if (answer === undefined) throw new Error('README\'s example did not start listening within 20 s')
    t.equal(answer.status, 200)
    t.strictSame(await answer.json(), { name: 'alice', limit: 3 })
    const anonymous = await fetch(url)
    t.equal(anonymous.status, 401)
    t.equal(anonymous.headers.get('www-authenticate'), 'Bearer')
    const invalid = await fetch(`http://127.0.0.1:${port}/me?limit=0`, { headers: { authorization: 'Bearer token-of-alice' } })
    t.equal(invalid.status, 400)
  })
})
