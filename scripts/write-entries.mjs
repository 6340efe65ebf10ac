// Writes the package entry points over the compiled CommonJS build: one implementation,
// loaded by both `require` and `import`, so dependency identity and symbols are shared.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const require = createRequire(import.meta.url)
const lib = require('../dist/lib/index.js')

writeFileSync(new URL('../dist/index.cjs', import.meta.url), `'use strict'
// require('fastify-depends') is the plugin itself, with every named export attached to it.
const lib = require('./lib/index.js')
module.exports = Object.assign(lib.default, lib)
`)

const names = Object.keys(lib).filter((name) => name !== 'default' && name !== '__esModule')
writeFileSync(new URL('../dist/index.mjs', import.meta.url), `import lib from './index.cjs'

export default lib.default
export const { ${names.join(', ')} } = lib
`)
// Declarations for each condition, so that every TypeScript setup sees what Node loads:
// `require` gets `export =` (module.exports is the plugin) with a namespace of every export, the
// official @fastify/* pattern; `import` gets an ES module with named exports and a default.
// `export import X = lib.X` may not name a declaration exported with `export type` (TS1379); in
// declaration files `export { X }` says the same.
for (const file of readdirSync(new URL('../dist/lib/', import.meta.url), { recursive: true })) {
  if (!String(file).endsWith('.d.ts')) continue
  const url = new URL(`../dist/lib/${file}`, import.meta.url)
  const text = readFileSync(url, 'utf8')
  const plain = text
    .replaceAll(/^export type \{/gm, 'export {')
    .replaceAll(/^export \{([^}]*)\}/gm, (_all, names) => `export {${names.replaceAll(/\btype\s+/g, '')}}`)
  if (plain !== text) writeFileSync(url, plain)
}
const exported = exportsOf(fileURLToPath(new URL('../dist/lib/index.d.ts', import.meta.url)))
const members = exported.filter(({ name }) => name !== 'default')
writeFileSync(new URL('../dist/index.d.cts', import.meta.url), `import * as lib from './lib/index.js'

declare function fastifyDepends (...args: Parameters<typeof lib.fastifyDepends>): ReturnType<typeof lib.fastifyDepends>
declare namespace fastifyDepends {
${members.map(({ name }) => `  export import ${name} = lib.${name}`).join('\n')}
  export { fastifyDepends as default }
}
export = fastifyDepends
`)
writeFileSync(new URL('../dist/index.d.mts', import.meta.url), `import fastifyDepends from './index.cjs'

export * from './lib/index.js'
export default fastifyDepends
`)

/** The names a declaration file exports, read by the compiler (types and values alike). */
function exportsOf (file) {
  const program = ts.createProgram([file], { noEmit: true, skipLibCheck: true })
  const checker = program.getTypeChecker()
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file))
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => ({ name: symbol.getName() }))
}

// tsc drops comments on imports: optional peers' types (`typebox` 1.x, `@fastify/websocket`) must
// stay optional for users who compile without skipLibCheck and do not have them.
const optionalImports = [
  ['lib/define/schema-static.d.ts', "import type { Static as StaticOfTypeBox1 } from 'typebox';", 'typebox 1.x is an optional peer; without it only its own schemas would need it'],
  ['types/fastify.d.ts', "import type { WebsocketHandler as SocketHandlerOfWebsocketPlugin } from '@fastify/websocket';", '@fastify/websocket is an optional peer; without it only `websocket: true` routes would need it']
]
for (const [file, optionalImport, reason] of optionalImports) {
  const url = new URL(`../dist/${file}`, import.meta.url)
  const declarations = readFileSync(url, 'utf8')
  if (!declarations.includes(optionalImport)) throw new Error(`write-entries: ${optionalImport} not found in dist/${file}`)
  writeFileSync(url, declarations.replace(optionalImport, `// @ts-ignore -- ${reason}\n${optionalImport}`))
}
