import { buildApp } from './app'

async function main (): Promise<void> {
  const app = await buildApp({ logger: true })
  const port = Number(process.env.PORT ?? 3000)
  await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
