// Parameters infer their types from `typebox` 1.x schemas as they do from `@sinclair/typebox` 0.34.
import { Type } from 'typebox'
import { expectType } from 'tsd'
import { depends, Query, Header, Body, type Dependency } from '../..'

expectType<Dependency<number>>(Query('limit', Type.Integer()))
expectType<Dependency<number>>(Query('skip', Type.Integer({ default: 0 })))
expectType<Dependency<string | undefined>>(Header('x-trace', Type.Optional(Type.String())))
expectType<Dependency<{ name: string, tags?: string[] }>>(Body(Type.Object({ name: Type.String(), tags: Type.Optional(Type.Array(Type.String())) })))

const page = depends({ limit: Query('limit', Type.Integer()) }, ({ limit }) => {
  expectType<number>(limit)
  return limit
})
expectType<Dependency<number>>(page)

// a plain JSON Schema literal is accepted; its value is unknown
expectType<Dependency<unknown>>(Query('q', { type: 'string' }))
