import { Type, type TInteger, type TOptional, type TString } from '@sinclair/typebox'
import { expectError, expectType } from 'tsd'
import {
  depends, Query, Header, Cookie, Path, Body,
  type Dependency, type DependencyValue, type InferDeps, type ParamValue
} from '../..'

const skip = Query('skip', Type.Integer())
expectType<Dependency<number>>(skip)

const trace = Header('X-Trace', Type.Optional(Type.String()))
expectType<Dependency<string | undefined>>(trace)

const limit = Query('limit', Type.Integer({ default: 20 }))
expectType<Dependency<number>>(limit)

expectType<Dependency<string>>(Cookie('session', Type.String()))
expectType<Dependency<number>>(Path('id', Type.Integer()))
expectType<Dependency<string[]>>(Body('tags', Type.Array(Type.String())))
expectType<Dependency<boolean | undefined>>(Body('draft', Type.Optional(Type.Boolean())))

const order = Body(Type.Object({ name: Type.String() }))
expectType<Dependency<{ name: string }>>(order)
expectType<{ name: string }>({} as DependencyValue<typeof order>)
expectType<string | undefined>({} as ParamValue<TOptional<TString>>)
expectType<number>({} as ParamValue<TInteger>)

// values are inferred through depends()
const pagination = depends({ skip, limit, trace, order }, ({ skip, limit, trace, order }) => {
  expectType<number>(skip)
  expectType<number>(limit)
  expectType<string | undefined>(trace)
  expectType<{ name: string }>(order)
  return { skip, limit }
})
expectType<Dependency<{ skip: number, limit: number }>>(pagination)

expectType<{ skip: number, trace: string | undefined }>({} as InferDeps<{ skip: typeof skip, trace: typeof trace }>)

// the name must be a string
expectError(Query(42, Type.Integer()))
expectError(Header(undefined, Type.String()))
expectError(Cookie({}, Type.String()))
expectError(Path(1, Type.Integer()))
expectError(Body(7, Type.String()))
// the schema must be a schema
expectError(Query('q', 'integer'))
