import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { build } from './helpers'
import { depends, Depends, Security, Query, Header, Path, OAuth2PasswordBearer } from '../lib/index'

/**
 * GET /items: a three-level tree where `db` is shared (cached for `tx`, fresh for `again`),
 * with a parameter, an OAuth2 scheme reached with scopes and a function-scoped generator.
 */
async function itemsApp (t: Test) {
  const app = await build(t, { dependencies: [depends(() => 1, { name: 'requestLog' })] }, { exposeHeadRoutes: false })
  const oauth2 = OAuth2PasswordBearer({ tokenUrl: '/token', scopes: { read: 'Read', write: 'Write' } })
  const db = depends(function * db () { yield 'conn' }, { name: 'db' })
  const user = depends({ token: oauth2, db }, ({ token }) => token, { name: 'user' })
  const tx = depends({ db }, async function * tx () { yield 'tx' }, { name: 'tx', scope: 'function' })
  const page = depends({ limit: Query('limit', Type.Integer({ default: 10 })), user: Security(user, ['read']) }, ({ limit }) => limit, { name: 'page' })
  app.get('/items', { dependencies: { page, tx, again: Depends(db, { useCache: false }) } }, async () => 'ok')
  return { app, user, db }
}

const itemsTree = [
  'GET /items',
  '├── requestLog (#1)',
  '├── page: page (#6)',
  '│   ├── Query(limit) (#2, query "limit")',
  '│   └── user (#5, scopes: read)',
  '│       ├── OAuth2PasswordBearer (#3, scheme OAuth2PasswordBearer, scopes: read)',
  '│       └── db (#4, request scope, scopes: read)',
  '├── tx: tx (#7, function scope)',
  '│   └── db (cached #4)',
  '└── again: db (#8, request scope)',
  ''
].join('\n')

test('printDependencies() prints each route\'s tree: order, scopes, shared nodes, parameters and schemes', async (t) => {
  const { app } = await itemsApp(t)
  app.post('/items/:id', {
    dependencies: { id: Path('id', Type.String()), trace: Header('X-Trace', Type.Optional(Type.String())) }
  }, async () => 'ok')
  app.get('/health', async () => 'ok')
  await app.ready()
  t.equal(app.printDependencies(), itemsTree + [
    'POST /items/:id',
    '├── requestLog (#1)',
    '├── id: Path(id) (#2, path "id")',
    '└── trace: Header(x-trace) (#3, header "x-trace")',
    'GET /health',
    '└── requestLog (#1)',
    ''
  ].join('\n'))
})

test('the tree printed is what resolves, in that order', async (t) => {
  const app = await build(t, {}, { exposeHeadRoutes: false })
  const order: string[] = []
  const leaf = depends(() => { order.push('leaf') }, { name: 'leaf' })
  const left = depends({ leaf }, () => { order.push('left') }, { name: 'left' })
  const right = depends({ leaf, left }, () => { order.push('right') }, { name: 'right' })
  app.get('/x', { dependencies: [right, left] }, async () => order)
  t.equal(app.printDependencies(), [
    'GET /x',
    '├── right (#3)',
    '│   ├── leaf (#1)',
    '│   └── left (#2)',
    '│       └── leaf (cached #1)',
    '└── left (cached #2)',
    ''
  ].join('\n'))
  const response = await app.inject('/x')
  t.same(response.json(), ['leaf', 'left', 'right'])
})

test('printDependencies({ route }) prints one route: "METHOD /url", or every method of a URL', async (t) => {
  const app = await build(t)
  const a = depends(() => 1, { name: 'a' })
  const b = depends(() => 2, { name: 'b' })
  app.get('/x', { dependencies: { a } }, async () => 'ok')
  app.post('/x', { dependencies: { b } }, async () => 'ok')
  app.get('/y', { dependencies: { a, b } }, async () => 'ok')
  await app.ready()
  t.equal(app.printDependencies({ route: 'GET /x' }), 'GET /x\n└── a: a (#1)\n')
  t.equal(app.printDependencies({ route: 'POST /x' }), 'POST /x\n└── b: b (#1)\n')
  // GET routes come with their HEAD route (Fastify's exposeHeadRoutes)
  t.equal(app.printDependencies({ route: '/x' }), [
    'GET /x', '└── a: a (#1)',
    'HEAD /x', '└── a: a (#1)',
    'POST /x', '└── b: b (#1)',
    ''
  ].join('\n'))
  t.equal(app.printDependencies({ route: 'DELETE /x' }), '')
  t.equal(app.printDependencies({ route: '/nothing' }), '')
  t.equal(app.printDependencies({ route: '/x/' }), '', 'the URL is matched exactly')
})

test('a route declared for several methods is found by each of them', async (t) => {
  const app = await build(t, {}, { exposeHeadRoutes: false })
  const a = depends(() => 1, { name: 'a' })
  app.route({ method: ['GET', 'POST'], url: '/m', dependencies: { a }, handler: async () => 'ok' })
  await app.ready()
  const tree = app.printDependencies({ route: '/m' })
  t.match(tree, /└── a: a \(#1\)\n$/)
  t.equal(app.printDependencies({ route: 'GET /m' }), tree)
  t.equal(app.printDependencies({ route: 'POST /m' }), tree)
})

test('a route without dependencies is not printed; an app without any prints nothing', async (t) => {
  const app = await build(t)
  app.get('/plain', async () => 'ok')
  await app.ready()
  t.equal(app.printDependencies(), '')
  t.equal(app.printDependencies({ route: '/plain' }), '')
})

test('printDependencies() prints the current plans: overrides show, and disappear when deleted', async (t) => {
  const { app, user, db } = await itemsApp(t)
  await app.ready()
  app.dependencyOverrides.set(user, depends(function * fakeUser () { yield 'alice' }, { name: 'fakeUser' }))
  // the replacement has no inputs: the scheme and the shared db are gone from that branch,
  // so tx resolves db itself; a generator override keeps the original's request scope
  t.equal(app.printDependencies({ route: 'GET /items' }), [
    'GET /items',
    '├── requestLog (#1)',
    '├── page: page (#4)',
    '│   ├── Query(limit) (#2, query "limit")',
    '│   └── fakeUser (#3, request scope, scopes: read)',
    '├── tx: tx (#6, function scope)',
    '│   └── db (#5, request scope)',
    '└── again: db (#7, request scope)',
    ''
  ].join('\n'))
  // a plain function replacing a generator: named after the original, no cleanup scope to show
  app.dependencyOverrides.set(db, () => 'memory')
  t.equal(app.printDependencies({ route: 'GET /items' }), [
    'GET /items',
    '├── requestLog (#1)',
    '├── page: page (#4)',
    '│   ├── Query(limit) (#2, query "limit")',
    '│   └── fakeUser (#3, request scope, scopes: read)',
    '├── tx: tx (#6, function scope)',
    '│   └── override of db (#5)',
    '└── again: override of db (#7)',
    ''
  ].join('\n'))
  app.dependencyOverrides.clear()
  t.equal(app.printDependencies(), itemsTree)
})

test('printDependencies() lists the routes of every encapsulation context with their context dependencies', async (t) => {
  const app: FastifyInstance = await build(t, {}, { exposeHeadRoutes: false })
  const tenant = depends(() => 't', { name: 'tenant' })
  const audit = depends({ tenant }, () => 'a', { name: 'audit' })
  await app.register(async (scope) => {
    scope.addDependencies({ tenant })
    scope.get('/inner', { dependencies: [audit] }, async () => 'ok')
  }, { prefix: '/v1' })
  app.get('/outer', { dependencies: [audit] }, async () => 'ok')
  await app.ready()
  t.equal(app.printDependencies(), [
    'GET /v1/inner',
    '├── tenant: tenant (#1)',
    '└── audit (#2)',
    '    └── tenant (cached #1)',
    'GET /outer',
    '└── audit (#2)',
    '    └── tenant (#1)',
    ''
  ].join('\n'))
})
