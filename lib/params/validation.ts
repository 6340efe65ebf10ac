import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyRequest, FastifySchema, FastifySchemaCompiler } from 'fastify'
import type { ParamUse } from './params'
import { readCookies } from './cookies'
import { canonical, mergeParams } from './schema-merge'
import { kCookieValues } from '../symbols'
import { keepTypeBox1Mark } from '../define/typebox-marks'

type Validate = ((data: unknown) => unknown) & { errors?: unknown }
type Part = 'querystring' | 'params' | 'headers' | 'body' | 'cookies'
const PARTS: readonly Part[] = ['params', 'body', 'querystring', 'headers', 'cookies']

interface CompileArgs { schema: unknown, method: string, url: string, httpPart?: string, contentType?: string }
type Compiler = (args: CompileArgs) => Validate

// Pools one Ajv per set of shared schemas, like Fastify.
const ajvCompilers = AjvCompiler()

/** What a route validates, kept so that overrides can change it (DESIGN §7). */
export class RouteValidation {
  readonly label: string
  readonly method: string
  readonly url: string
  readonly methods: readonly string[]
  /** The route's own hand-written schema, before any parameter was merged in. */
  readonly own: FastifySchema | undefined
  readonly routeCompiler: Compiler | undefined
  readonly context: { readonly validatorCompiler?: unknown, getSchemas: () => Record<string, unknown> }
  /** The validator Fastify's own validation step dispatches to, per part it validates. */
  readonly current: Partial<Record<Part, Validate>> = {}
  /** The schema each part is validated against now (canonical JSON), for cheap comparisons. */
  readonly applied: Partial<Record<Part, string>> = {}
  /** Parts Fastify does not validate for this route (cookies, parts brought by overrides): the plugin does. */
  pending: Array<[Part, Validate]> | null = null
  /** Fastify validates the body per content type. */
  perContentType = false

  constructor (label: string, methods: readonly string[], url: string, own: FastifySchema | undefined, routeCompiler: unknown, context: RouteValidation['context']) {
    this.label = label
    this.methods = methods
    this.method = methods.join(',')
    this.url = url
    this.own = own
    this.routeCompiler = routeCompiler as Compiler | undefined
    this.context = context
  }

  // The route's compiler, else its context's, else one like Fastify's default (an app whose
  // routes all use this one has not built Fastify's).
  compile (part: Part, schema: unknown, contentType?: string): Validate {
    const compiler = this.routeCompiler ?? (this.context.validatorCompiler as Compiler | undefined) ?? defaultCompiler(this.context)
    return compiler({ schema: part === 'headers' ? lowerCaseHeaders(schema) : schema, method: this.method, url: this.url, httpPart: part, contentType })
  }

  /**
   * The route-level `validatorCompiler`: compiles what Fastify asks for and hands it a
   * dispatcher, so that the validator can be swapped when overrides change the tree.
   */
  validatorCompiler (): FastifySchemaCompiler<unknown> {
    return ((args: CompileArgs) => {
      const part = args.httpPart as Part
      if ((args as CompileArgs).contentType !== undefined) {
        // A body schema per content type is the route's own (dependencies cannot merge into it).
        this.perContentType = true
        return this.compile(part, args.schema, (args as CompileArgs).contentType)
      }
      this.current[part] = this.compile(part, args.schema)
      this.applied[part] = canonical(args.schema)
      return dispatcher(this, part)
    }) as unknown as FastifySchemaCompiler<unknown>
  }

  /**
   * Brings validation in line with the route's effective parameters (after overrides changed):
   * recompiles only the parts whose schema changed. Throws FST_DEPENDS_PARAM_CONFLICT.
   */
  update (params: readonly ParamUse[]): void {
    const schema = mergeParams(this.label, this.url, this.methods, this.own, params).schema as Record<Part, unknown>
    let pending: Array<[Part, Validate]> | null = null
    for (const part of PARTS) {
      if (part === 'body' && this.perContentType) continue
      const wanted = schema[part]
      const key = wanted === undefined ? undefined : canonical(wanted)
      if (this.current[part] !== undefined && part !== 'cookies') {
        if (key === this.applied[part]) continue
        this.current[part] = wanted === undefined ? acceptAll : this.compile(part, wanted)
        this.applied[part] = key
      } else if (wanted !== undefined) {
        pending ??= []
        pending.push([part, this.pendingValidator(part, wanted, key as string)])
      }
    }
    this.pending = pending
  }

  #cache = new Map<string, Validate>()

  private pendingValidator (part: Part, schema: unknown, key: string): Validate {
    let validate = this.#cache.get(`${part}|${key}`)
    if (validate === undefined) {
      validate = this.compile(part, schema)
      this.#cache.set(`${part}|${key}`, validate)
    }
    return validate
  }
}

function acceptAll (): boolean {
  return true
}

function dispatcher (validation: RouteValidation, part: Part): Validate {
  const dispatch: Validate = function validateCurrent (data: unknown): unknown {
    const validate = validation.current[part] as Validate
    const result = validate(data)
    dispatch.errors = validate.errors
    return result
  }
  return dispatch
}

type AjvServerOptions = Parameters<typeof ajvCompilers>[1]

// Fastify keeps its server options (with `ajv`) on a private symbol of the root instance.
function serverAjvOptions (context: object): AjvServerOptions {
  const optionsKey = (object: object): symbol | undefined =>
    Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === 'fastify.options')
  let current = context
  let key = optionsKey(current)
  // Up the encapsulation chain to the root instance, which holds them.
  while (key === undefined) {
    current = Object.getPrototypeOf(current)
    key = optionsKey(current)
  }
  // Fastify fills in `ajv: { customOptions, plugins }` when it starts.
  return (current as Record<symbol, { ajv: AjvServerOptions }>)[key].ajv
}

function defaultCompiler (context: RouteValidation['context']): Compiler {
  return ajvCompilers(context.getSchemas() as Parameters<typeof ajvCompilers>[0], serverAjvOptions(context)) as unknown as Compiler
}

// Fastify lower-cases header schemas itself, except for a route with its own compiler.
function lowerCaseHeaders (schema: unknown): unknown {
  const object = schema as { properties?: Record<string, unknown>, required?: string[] }
  if (typeof object !== 'object' || object === null || typeof object.properties !== 'object') return schema
  const properties: Record<string, unknown> = {}
  for (const [name, property] of Object.entries(object.properties)) properties[name.toLowerCase()] = property
  const copy: Record<string | symbol, unknown> = { ...object, properties }
  if (Array.isArray(object.required)) copy.required = object.required.map((name) => name.toLowerCase())
  return keepTypeBox1Mark(copy, object)
}

interface ValidationIssue { instancePath: string, message?: string }

function validationError (part: Part, issues: ValidationIssue[] | Error): Error {
  if (issues instanceof Error) return Object.assign(issues, { statusCode: 400, code: 'FST_ERR_VALIDATION', validationContext: part })
  const message = issues.map((issue) => `${part}${issue.instancePath} ${issue.message}`).join(', ')
  return Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: issues, validationContext: part })
}

const requestProperty: Record<Exclude<Part, 'cookies'>, string> = { querystring: 'query', params: 'params', headers: 'headers', body: 'body' }

function requestPart (request: FastifyRequest, part: Part): unknown {
  if (part === 'cookies') return readCookies(request)
  return (request as unknown as Record<string, unknown>)[requestProperty[part]]
}

/**
 * Validates the parts Fastify does not (cookies; parts an override brought), like Fastify does:
 * coercion in place, or the `value` a custom compiler returns. Returns the 400 error, if any.
 */
export function validatePending (validation: RouteValidation, request: FastifyRequest): Error | undefined {
  for (const [part, validate] of validation.pending as Array<[Part, Validate]>) {
    const data = requestPart(request, part)
    const result = validate(data) as boolean | { error?: Error, value?: unknown }
    if (result === false) return validationError(part, validate.errors as ValidationIssue[])
    if (typeof result === 'object' && result !== null && result.error !== undefined) return validationError(part, result.error)
    const value = typeof result === 'object' && result !== null && 'value' in result ? result.value : data
    if (part === 'cookies') (request as unknown as Record<symbol, unknown>)[kCookieValues] = value
    else if (value !== data) (request as unknown as Record<string, unknown>)[requestProperty[part]] = value
  }
  return undefined
}
