import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, logCollector, settle } from './helpers'
import { depends } from '../lib/index'
import { logSlowDependencies } from '../example/slow-dependencies'

test('the example subscriber logs slow dependencies and their cleanups with pino, and stops when asked', async (t) => {
  const log = logCollector()
  const app = await build(t, {}, { logger: { level: 'warn', stream: log.stream } })
  const fast = depends(() => 'fast', { name: 'fast' })
  const slow = depends(async () => { await sleep(30); return 'slow' }, { name: 'slow' })
  const slowCleanup = depends(async function * slowCleanup () {
    yield 'session'
    await sleep(30)
  })
  app.get('/', { dependencies: { fast, slow, slowCleanup } }, async (request) => request.deps)
  const stop = logSlowDependencies(app.log, 20)

  const res = await app.inject('/')
  t.same(res.json(), { fast: 'fast', slow: 'slow', slowCleanup: 'session' })
  await sleep(60)
  const lines = log.lines.filter((l) => l.msg !== undefined && String(l.msg).startsWith('slow dependency'))
  t.same(lines.map((l) => [l.dependency, l.phase, l.route]), [['slow', 'resolve', 'GET /'], ['slowCleanup', 'cleanup', 'GET /']])
  t.ok(lines.every((l) => (l.durationMs as number) >= 20 && l.level === 40 && typeof l.reqId === 'string'))

  stop()
  log.lines.length = 0
  await app.inject('/')
  await settle()
  await sleep(60)
  t.same(log.lines.filter((l) => String(l.msg).startsWith('slow dependency')), [], 'nothing after unsubscribing')
})
