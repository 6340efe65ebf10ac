import { test } from 'tap'
import { execFileSync } from 'node:child_process'

// .ci/run runs the suite once per supported Node line and names the version it put first on PATH.
const expected = process.env.FASTIFY_DEPENDS_TEST_NODE

test('test processes run on the Node version that .ci/run selected (else the one first on PATH)', async (t) => {
  const onPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim()
  t.equal(process.version, expected === undefined ? onPath : `v${expected}`)
})
