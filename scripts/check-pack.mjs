// Checks what `npm pack` would publish, from the current build: only the build and the package's
// own documents, no tests, and every source map readable without files that are not shipped.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }))
const files = new Set(pack.files.map((file) => file.path))
const problems = []

for (const path of ['package.json', 'README.md', 'LICENSE', 'dist/index.cjs', 'dist/index.mjs']) {
  if (!files.has(path)) problems.push(`${path} is missing`)
}
for (const path of files) {
  if (!/^(?:package\.json|README\.md|LICENSE|dist\/.+)$/.test(path)) problems.push(`${path} is outside dist/`)
  if (/(?:^|\/)(?:test|scratch|bench|example)\/|\.test(?:-d)?\.[cm]?[jt]s$/.test(path)) problems.push(`${path} is a test or development file`)
  if (path.endsWith('.js')) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(root, path), 'utf8'))?.[1]
    if (url !== undefined && !files.has(posix.join(posix.dirname(path), url))) problems.push(`${path} points at ${url}, which is not shipped`)
  }
  if (path.endsWith('.map')) {
    const map = JSON.parse(readFileSync(join(root, path), 'utf8'))
    map.sources.forEach((source, i) => {
      const shipped = files.has(posix.join(posix.dirname(path), map.sourceRoot ?? '', source))
      if (!shipped && typeof map.sourcesContent?.[i] !== 'string') problems.push(`${path} needs ${source}, which is neither shipped nor inlined`)
    })
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
console.log(`${pack.filename}: ${files.size} files, ${(pack.size / 1000).toFixed(1)} kB packed, ${(pack.unpackedSize / 1000).toFixed(1)} kB unpacked`)
