// (d) NestJS on @nestjs/platform-fastify: a request-scoped provider chain (token -> db session ->
// current user) injected into a request-scoped controller, and a guard checking the route's scopes.
// tsx (esbuild) emits no decorator metadata, so the decorators are applied by hand with explicit
// injection tokens, as TypeScript's `__decorate` would apply them. NestJS 12 is ESM-only: it is
// loaded with import() from this CommonJS module.
import 'reflect-metadata'
import type { CanActivate, ExecutionContext, FactoryProvider, Type } from '@nestjs/common' with { 'resolution-mode': 'import' }
import type { Reflector as ReflectorType } from '@nestjs/core' with { 'resolution-mode': 'import' }
import type { NestFastifyApplication } from '@nestjs/platform-fastify' with { 'resolution-mode': 'import' }
import type { FastifyRequest } from 'fastify'
import {
  Pool, QUERYSTRING, REQUIRED_SCOPE, bearerToken, findUser, itemsPage, missingScope,
  type Session, type User
} from '../workloads/w1'
import { unsupported, type RunningServer, type Workload } from './server'

type SessionRequest = FastifyRequest & { benchSession: Session | null }

function decorateClass (target: Function, decorators: ClassDecorator[]): void {
  Reflect.decorate(decorators, target)
}

function decorateMethod (target: object, key: string, decorators: MethodDecorator[]): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor
  Object.defineProperty(target, key, Reflect.decorate(decorators, target, key, descriptor) ?? descriptor)
}

function decorateParams (target: object, key: string | undefined, decorators: ParameterDecorator[]): void {
  decorators.forEach((decorator, index) => decorator(target, key, index))
}

async function buildModule (pool: Pool): Promise<Type<unknown>> {
  const {
    Controller, Get, Inject, Injectable, Module, Query, Scope, SetMetadata, UnauthorizedException, UseGuards
  } = await import('@nestjs/common')
  const { REQUEST, Reflector } = await import('@nestjs/core')
  const { RouteSchema } = await import('@nestjs/platform-fastify')

  const POOL = Symbol('pool')
  const TOKEN = Symbol('token')
  const DB_SESSION = Symbol('db session')
  const CURRENT_USER = Symbol('current user')
  const SCOPES = 'bench:scopes'

  const providers: FactoryProvider[] = [
    { provide: POOL, useFactory: () => pool },
    {
      provide: TOKEN,
      scope: Scope.REQUEST,
      inject: [REQUEST],
      useFactory: (request: FastifyRequest) => {
        const token = bearerToken(request.headers.authorization)
        if (token === undefined) throw new UnauthorizedException('Not authenticated')
        return token
      }
    },
    {
      provide: DB_SESSION,
      scope: Scope.REQUEST,
      inject: [REQUEST],
      // Nest has no per-request disposal: the session is noted on the request and given back in onResponse.
      useFactory: async (request: SessionRequest) => {
        const session = await pool.acquire()
        request.benchSession = session
        return session
      }
    },
    {
      provide: CURRENT_USER,
      scope: Scope.REQUEST,
      inject: [TOKEN, DB_SESSION],
      useFactory: (token: string, session: Session) => {
        const user = findUser(session, token)
        if (user === undefined) throw new UnauthorizedException('Invalid token')
        return user
      }
    }
  ]

  class ScopesGuard implements CanActivate {
    constructor (private readonly user: User, private readonly reflector: ReflectorType) {}

    canActivate (context: ExecutionContext): boolean {
      const required = this.reflector.get<string[] | undefined>(SCOPES, context.getHandler()) ?? []
      if (missingScope(this.user, required) !== undefined) throw new UnauthorizedException('Not enough permissions')
      return true
    }
  }
  decorateParams(ScopesGuard, undefined, [Inject(CURRENT_USER), Inject(Reflector)])
  decorateClass(ScopesGuard, [Injectable()])

  class ItemsController {
    constructor (private readonly user: User, private readonly session: Session, private readonly pool: Pool) {}

    list (skip: number, limit: number) {
      return itemsPage(this.user, this.pool, this.session, skip, limit)
    }
  }
  decorateParams(ItemsController, undefined, [Inject(CURRENT_USER), Inject(DB_SESSION), Inject(POOL)])
  decorateParams(ItemsController.prototype, 'list', [Query('skip'), Query('limit')])
  decorateMethod(ItemsController.prototype, 'list', [
    Get(),
    RouteSchema({ querystring: QUERYSTRING }),
    SetMetadata(SCOPES, [REQUIRED_SCOPE]),
    UseGuards(ScopesGuard)
  ])
  decorateClass(ItemsController, [Controller('items')])

  class AppModule {}
  decorateClass(AppModule, [Module({ controllers: [ItemsController], providers })])
  return AppModule
}

export async function start (workload: Workload): Promise<RunningServer> {
  if (workload !== 'w1') unsupported('nest', workload)
  const { NestFactory } = await import('@nestjs/core')
  const { FastifyAdapter } = await import('@nestjs/platform-fastify')
  const pool = new Pool()
  const adapter = new FastifyAdapter({ logger: false })
  const fastify = adapter.getInstance()
  fastify.decorateRequest('benchSession', null)
  fastify.addHook('onResponse', (request, _reply, done) => {
    const session = (request as SessionRequest).benchSession
    if (session !== null) pool.release(session)
    done()
  })
  const app = await NestFactory.create<NestFastifyApplication>(await buildModule(pool), adapter, { logger: false })
  await app.listen(0, '127.0.0.1')
  const address = app.getHttpServer().address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { port: address.port, close: () => app.close() }
}
