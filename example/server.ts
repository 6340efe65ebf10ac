// `npm start`: the example service on http://127.0.0.1:3000.
// Environment: PORT, HOST, DATABASE_URL (else PGlite in memory), JWT_SECRET (else random), LOG_LEVEL.
import { buildApp } from './app'
import { SEEDED_MACHINE_USERS, SEEDED_USERS } from './schema'

async function main (): Promise<void> {
  const external = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ''
  console.log(external ? 'Connecting to DATABASE_URL...' : 'Starting the embedded PostgreSQL (PGlite, in memory)...')
  const slow = process.env.SLOW_DEPENDENCY_MS
  const app = await buildApp({
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    slowDependencyMs: slow === undefined ? undefined : Number(slow)
  })
  const port = Number(process.env.PORT ?? 3000)
  let url: string
  try {
    url = await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })
  } catch (err) {
    await app.close()
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      console.error(`Port ${port} is taken; pick another one: PORT=${port + 1} npm start`)
      process.exit(1)
    }
    throw err
  }
  console.log([
    '',
    `fastify-depends example: ${url}`,
    `  Swagger UI:  ${url}/docs  (Authorize, then "Try it out")`,
    `  users:       ${SEEDED_USERS.map((u) => `${u.username} / ${u.password} (${u.scopes.join(' ')})`).join(', ')}`,
    `  API keys:    ${SEEDED_MACHINE_USERS.map((u) => `${u.apiKey} (${u.username}: ${u.scopes.join(' ')}; GET /items)`).join(', ')}`,
    `  try:         curl -s -d username=alice -d password=secret ${url}/token`,
    `               curl -s -H 'x-api-key: ${SEEDED_MACHINE_USERS[0].apiKey}' ${url}/items`,
    ''
  ].join('\n'))

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.close().then(() => process.exit(0), (err: unknown) => {
        console.error(err)
        process.exit(1)
      })
    })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
