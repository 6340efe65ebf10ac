// Writes the package entry points over the compiled CommonJS build: one implementation,
// loaded by both `require` and `import`, so dependency identity and symbols are shared.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

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
writeFileSync(new URL('../dist/index.d.ts', import.meta.url), `export * from './lib/index.js'
export { default } from './lib/index.js'
`)
