import { test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'

const run = promisify(execFile)
const root = join(__dirname, '..')

// Both scripts load the built package by its own name (package self-reference through "exports").
const cjs = `
const fastifyDepends = require('fastify-depends')
const { depends, Depends, Security, httpError, default: byDefault } = require('fastify-depends')
const Fastify = require('fastify')
const app = Fastify()
const one = depends(() => 1)
app.register(fastifyDepends).after(() => {
  app.get('/', { dependencies: { one, two: Depends(depends({ one }, ({ one }) => one + 1)) } }, async (r) => r.deps)
})
app.inject('/').then((res) => {
  console.log(JSON.stringify({
    body: res.json(),
    pluginIsFunction: typeof fastifyDepends === 'function',
    defaultIsPlugin: byDefault === fastifyDepends,
    named: [typeof depends, typeof Security, typeof httpError],
    keys: Object.keys(fastifyDepends).sort()
  }))
  return app.close()
})
`

const esm = `
import fastifyDepends, * as api from 'fastify-depends'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
const required = createRequire(import.meta.url)('fastify-depends')
const app = Fastify()
await app.register(fastifyDepends)
const one = api.depends(() => 1)
app.get('/', { dependencies: { one } }, async (r) => r.deps)
const res = await app.inject('/')
console.log(JSON.stringify({
  body: res.json(),
  samePlugin: fastifyDepends === required,
  sameDepends: api.depends === required.depends,
  keys: Object.keys(api).filter((k) => k !== 'default').sort()
}))
await app.close()
`

test('require() gives the plugin with every named export attached', async (t) => {
  const { stdout } = await run(process.execPath, ['-e', cjs], { cwd: root })
  const out = JSON.parse(stdout)
  t.same(out.body, { one: 1, two: 2 })
  t.equal(out.pluginIsFunction, true)
  t.equal(out.defaultIsPlugin, true)
  t.same(out.named, ['function', 'function', 'function'])
  t.ok(out.keys.includes('depends') && out.keys.includes('DependencyScopeError'))
})

test('import gives the same implementation as require (no dual-package hazard)', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', esm], { cwd: root })
  const out = JSON.parse(stdout)
  t.same(out.body, { one: 1 })
  t.equal(out.samePlugin, true)
  t.equal(out.sameDepends, true)
  const { stdout: cjsKeys } = await run(process.execPath, ['-e', "console.log(JSON.stringify(Object.keys(require('./dist/lib/index.js')).filter((k) => k !== 'default' && k !== '__esModule').sort()))"], { cwd: root })
  t.same(out.keys, JSON.parse(cjsKeys), 'the ESM entry exports every named export of the build')
})
