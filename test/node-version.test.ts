import { test } from 'tap'

// .ci/run runs the suite once per supported Node line and names the version it put first on PATH.
const expected = process.env.FASTIFY_DEPENDS_TEST_NODE

test('test processes run on the Node version that .ci/run selected', { skip: expected === undefined ? 'FASTIFY_DEPENDS_TEST_NODE is not set (.ci/run sets it)' : false }, async (t) => {
  t.equal(process.version, `v${expected}`)
})
