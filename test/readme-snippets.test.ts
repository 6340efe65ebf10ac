// Every ```ts block of README.md compiles against the built package, so the README cannot drift
// from the API. Each block is a module; test/readme/globals.d.ts declares what blocks take from
// the story around them.
import { test } from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = join(__dirname, '..')

interface Snippet { readonly line: number, readonly code: string }

export function readmeSnippets (readme: string): Snippet[] {
  const snippets: Snippet[] = []
  const lines = readme.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end] !== '```') end++
    snippets.push({ line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return snippets
}

test('every TypeScript snippet in README.md compiles against the package', async (t) => {
  const snippets = readmeSnippets(readFileSync(join(root, 'README.md'), 'utf8'))
  t.ok(snippets.length >= 10, `README has its snippets (${snippets.length})`)
  const dir = mkdtempSync(join(root, '.readme-snippets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(root, join(dir, 'node_modules', 'fastify-depends'), 'dir')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  copyFileSync(join(__dirname, 'readme', 'globals.d.ts'), join(dir, 'globals.d.ts'))
  for (const snippet of snippets) writeFileSync(join(dir, `readme-line-${snippet.line}.ts`), `${snippet.code}\nexport {}\n`)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: ['node'], noUnusedLocals: false },
    include: ['*.ts']
  }))
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const output = await run(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir }).then(() => '', (err) => String(err.stdout) + String(err.stderr))
  // Errors name the README line where the snippet starts: readme-line-<N>.ts(<line>,<col>).
  t.equal(output, '', 'tsc reports no error in README.md snippets')
})
