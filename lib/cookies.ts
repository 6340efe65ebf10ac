import { AjvCompiler } from '@fastify/ajv-compiler'
import type { TObject } from '@sinclair/typebox'
import { parseCookie } from 'cookie'
import type { FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import { kCookieValues } from './symbols'

type Validate = (data: unknown) => unknown

/** A route's cookie validation: Fastify does not validate `schema.cookies`, so the plugin does. */
export interface CookieValidation {
  readonly schema: TObject
  readonly method: string
  readonly url: string
  /** The route's own validator compiler, if it set one. */
  readonly routeCompiler: FastifySchemaCompiler<unknown> | undefined
  /** The route's context, whose compiler is known once the app is ready. */
  readonly context: { readonly validatorCompiler?: FastifySchemaCompiler<unknown> }
  validate: Validate | null
}

let fallbackCompiler: FastifySchemaCompiler<unknown> | undefined

// An app whose routes have no schema of their own has not built Fastify's compiler: build the
// same one (Fastify's default Ajv options).
function defaultCompiler (): FastifySchemaCompiler<unknown> {
  if (fallbackCompiler === undefined) {
    fallbackCompiler = AjvCompiler()({}, { customOptions: {}, plugins: [] }) as FastifySchemaCompiler<unknown>
  }
  return fallbackCompiler
}

/** Compiles with the route's compiler, else its context's, at ready time. */
export function compileCookieValidation (validation: CookieValidation): void {
  const compiler = validation.routeCompiler ?? validation.context.validatorCompiler ?? defaultCompiler()
  validation.validate = compiler({ schema: validation.schema, method: validation.method, url: validation.url, httpPart: 'cookies' }) as Validate
}

interface ValidationIssue { instancePath?: string, message?: string }

function validationError (issues: ValidationIssue[] | Error): Error {
  if (issues instanceof Error) return Object.assign(issues, { statusCode: 400, code: 'FST_ERR_VALIDATION', validationContext: 'cookies' })
  const message = issues.map((issue) => `cookies${issue.instancePath ?? ''} ${issue.message}`).join(', ')
  return Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: issues, validationContext: 'cookies' })
}

function readCookies (request: FastifyRequest): Record<string, unknown> {
  const parsed = (request as { cookies?: Record<string, unknown> }).cookies
  if (parsed !== undefined) return { ...parsed }
  const header = request.headers.cookie
  return header === undefined ? {} : { ...parseCookie(header) }
}

/** preHandler, before resolution: parse, validate and coerce the cookies (400 like any parameter). */
export function createCookieHook (validation: CookieValidation) {
  return function validateCookies (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const cookies = readCookies(request)
    const validate = validation.validate as Validate
    const result = validate(cookies) as boolean | { error?: Error, value?: unknown }
    if (result === false) {
      done(validationError((validate as unknown as { errors: ValidationIssue[] }).errors))
      return
    }
    if (typeof result === 'object' && result !== null && result.error !== undefined) {
      done(validationError(result.error))
      return
    }
    (request as unknown as Record<symbol, unknown>)[kCookieValues] = typeof result === 'object' && result !== null && 'value' in result ? result.value : cookies
    done()
  }
}
