import { depends, describeValue, isDependency, type Dependency, type DependencyContext } from './define/dependency'
import { DependencyInvalidError } from './errors'

/** A function taken as `depends(fn)`: it returns `T`, a promise of it, or a generator yielding it. */
export type OverrideFunction<T = unknown> = (inputs: Record<never, never>, ctx: DependencyContext) =>
  T | PromiseLike<T> | Generator<T, unknown, any> | AsyncGenerator<T, unknown, any>

/** What may replace a `Dependency<T>`: a dependency whose value is assignable to `T`, or a function giving one. */
export type Override<T> = Dependency<T> | OverrideFunction<T>

/**
 * `app.dependencyOverrides`: a Map from a dependency to its replacement (a dependency, or a
 * plain function taken as `depends(fn)`). Every change bumps `version` and asks the plugin to
 * recompile the affected plans once, so requests never re-analyse trees; a change that would
 * make a route invalid (a cycle) throws and is undone.
 */
export class DependencyOverrides extends Map<Dependency<any>, Dependency<any> | OverrideFunction> {
  /** Incremented on every change. */
  version = 0
  #normalized = new Map<Dependency, Dependency>()
  #onChange: (() => void) | null = null

  /** @internal The plugin's recompilation hook. */
  listen (onChange: () => void): void {
    this.#onChange = onChange
  }

  /** @internal The replacements, each as a dependency. */
  get normalized (): ReadonlyMap<Dependency, Dependency> {
    return this.#normalized
  }

  // `T` comes from the original alone (`NoInfer`, as Fastify's own route types use): a replacement
  // cannot widen it. `[T][T extends any ? 0 : never]` lets `undefined` through; `DependencyValue<D>` loses literal types.
  override set<T> (original: Dependency<T>, replacement: NoInfer<Override<T>>): this {
    if (!isDependency(original)) {
      throw new DependencyInvalidError(`dependencyOverrides.set(): the key must be a dependency created with depends(), got ${describeValue(original)}`)
    }
    let normalized: Dependency
    if (isDependency(replacement)) {
      normalized = replacement
    } else if (typeof replacement === 'function') {
      normalized = depends(replacement, { name: replacement.name || `override of ${original.name}` })
    } else {
      throw new DependencyInvalidError(`dependencyOverrides.set(): the replacement for "${original.name}" must be a dependency or a function, got ${describeValue(replacement)}`)
    }
    const hadPrevious = super.has(original)
    const previous = super.get(original)
    const previousNormalized = this.#normalized.get(original)
    super.set(original, replacement)
    this.#normalized.set(original, normalized)
    try {
      this.#changed()
    } catch (err) {
      if (hadPrevious) {
        super.set(original, previous as Dependency)
        this.#normalized.set(original, previousNormalized as Dependency)
      } else {
        super.delete(original)
        this.#normalized.delete(original)
      }
      this.#changed()
      throw err
    }
    return this
  }

  override delete (original: Dependency<any>): boolean {
    const deleted = super.delete(original)
    this.#normalized.delete(original)
    if (deleted) this.#changed()
    return deleted
  }

  override clear (): void {
    const hadEntries = this.size > 0
    super.clear()
    this.#normalized.clear()
    if (hadEntries) this.#changed()
  }

  #changed (): void {
    this.version++
    if (this.#onChange !== null) this.#onChange()
  }
}
