// Schemas the plugin builds itself (a route's merged querystring, headers, params, cookies and body
// objects; the OAuth2 form's fields) are plain JSON Schema. TypeBox's own validator compilers only
// take schemas carrying TypeBox's marks: 0.34 reads a `Symbol.for('TypeBox.Kind')` key, 1.x a
// non-enumerable `~kind` key (its Value.Convert coerces only through it). Both are invisible to Ajv.

const kLegacyKind = Symbol.for('TypeBox.Kind')
const kLegacyOptional = Symbol.for('TypeBox.Optional')

type Marked = Record<string | symbol, unknown>

export function hasLegacyMark (schema: object): boolean {
  return (schema as Marked)[kLegacyKind] !== undefined
}

export function hasTypeBox1Mark (schema: object): boolean {
  return Object.hasOwn(schema, '~kind')
}

/** `Type.Optional` of either generation. */
export function isOptionalMarked (schema: object): boolean {
  return (schema as Marked)[kLegacyOptional] === 'Optional' || (schema as Marked)['~optional'] === true
}

/** Gives `schema` the kind mark of each TypeBox generation that `like` holds a schema of. */
export function markLike<S extends object> (schema: S, kind: string, like: Iterable<object>): S {
  let legacy = false
  let current = false
  for (const member of like) {
    legacy ||= hasLegacyMark(member)
    current ||= hasTypeBox1Mark(member)
  }
  return markKind(schema, kind, legacy, current)
}

/** Gives `schema` TypeBox's kind marks (0.34 and/or 1.x); `optional` adds the Optional modifier. */
export function markKind<S extends object> (schema: S, kind: string, legacy: boolean, current: boolean, optional = false): S {
  if (legacy) {
    (schema as Marked)[kLegacyKind] = kind
    if (optional) (schema as Marked)[kLegacyOptional] = 'Optional'
  }
  if (current) {
    Object.defineProperty(schema, '~kind', { value: kind, enumerable: false, configurable: true, writable: true })
    if (optional) Object.defineProperty(schema, '~optional', { value: true, enumerable: false, configurable: true, writable: true })
  }
  return schema
}

/** A copy of an object schema keeps its 1.x mark, which a spread (non-enumerable) would drop. */
export function keepTypeBox1Mark<S extends object> (copy: S, original: object): S {
  if (hasTypeBox1Mark(original)) Object.defineProperty(copy, '~kind', Object.getOwnPropertyDescriptor(original, '~kind') as PropertyDescriptor)
  return copy
}
