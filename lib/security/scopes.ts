import type { SecurityScopes } from '../define/dependency'

export const NO_SCOPES: SecurityScopes = Object.freeze({ scopes: Object.freeze([]) as readonly string[], scopeStr: '' })

export function scopesObject (scopes: readonly string[]): SecurityScopes {
  if (scopes.length === 0) return NO_SCOPES
  return Object.freeze({ scopes: Object.freeze([...scopes]), scopeStr: scopes.join(' ') })
}

/** A child's scopes: the parent's, then its own that are not there yet (FastAPI B82, de-duplicated). */
export function addScopes (parent: readonly string[], own: readonly string[]): readonly string[] {
  if (own.length === 0) return parent
  const merged = [...parent]
  for (const scope of own) if (!merged.includes(scope)) merged.push(scope)
  return merged
}
