import type { FastifyInstance } from 'fastify'

/** W1: the reference; W2: 20 synchronous nodes; W3: W1 with one leaf overridden. */
export type Workload = 'w1' | 'w2' | 'w3'

export interface RunningServer {
  readonly port: number
  close (): Promise<void>
}

/** Every implementation listens on 127.0.0.1 with an OS-chosen port. */
export async function listenFastify (app: FastifyInstance): Promise<RunningServer> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { port: address.port, close: () => app.close() }
}

export function unsupported (implementation: string, workload: Workload): never {
  throw new Error(`${implementation} does not implement ${workload}`)
}
