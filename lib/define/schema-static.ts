// The static type of a parameter's schema, for TypeBox 0.34 (`@sinclair/typebox`) and 1.x
// (`typebox`) alike, without importing either at run time and without tying the package's
// declarations to one build of 0.34 (its CommonJS and ESM declarations are different types).

// @ts-ignore -- `typebox` 1.x is an optional peer; without it this is `any`, reached only by 1.x schemas
import type { Static as StaticOfTypeBox1 } from 'typebox'

/** `true` when a symbol-keyed property is exactly `'Optional'` (TypeBox 0.34's `[OptionalKind]`, which other schemas type as `string | undefined`). */
type HasLegacyOptionalMark<S> = true extends { [K in keyof S]-?: K extends symbol ? (S[K] extends 'Optional' ? true : never) : never }[keyof S] ? true : false

/** The TypeScript type a schema validates: `unknown` for a plain JSON Schema literal. */
export type SchemaStatic<S> = S extends { readonly '~kind': string }
  ? StaticOfTypeBox1<S>
  : S extends { static: unknown, params: unknown[] }
    ? (S & { params: [] })['static']
    : unknown

/** `Type.Optional(...)` in either TypeBox generation. */
export type IsOptionalSchema<S> = S extends { readonly '~optional': true }
  ? true
  : HasLegacyOptionalMark<S>

/** The value of a parameter: `Type.Optional` adds `undefined` (types cannot see a default). */
export type ParamValue<S> = IsOptionalSchema<S> extends true ? SchemaStatic<S> | undefined : SchemaStatic<S>

/** A JSON Schema: a TypeBox schema of either generation, or an object literal. */
export type ParamSchema = object
