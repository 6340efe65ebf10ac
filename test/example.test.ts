import { test } from 'tap'
import { buildApp, events } from '../example/app'

test('the example service answers with the user, commits after the response, rolls back on errors', async (t) => {
  const app = await buildApp()
  t.after(() => app.close())

  events.length = 0
  const me = await app.inject({ url: '/me', headers: { 'x-token': 'token-alice' } })
  t.equal(me.statusCode, 200)
  t.match(me.headers['x-elapsed-ns'], /^\d+$/)
  const body = me.json()
  t.same(body, { user: 'alice', session: body.session, log: ['read user alice'] })
  t.same(events, [`session ${body.session}: begin`, `session ${body.session}: commit`])

  events.length = 0
  const anonymous = await app.inject('/me')
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Token')
  t.equal(events.length, 2)
  t.match(events[1], /rollback$/)

  const forbidden = await app.inject({ url: '/admin/stats', headers: { 'x-token': 'token-alice' } })
  t.equal(forbidden.statusCode, 403)
  t.same((await app.inject('/health')).json(), { ok: true })
})
