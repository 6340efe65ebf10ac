// One micro benchmark in a fresh process: `child.ts <resolver|compile|heap-depends|heap-hooks> [--quick]`.
// Sends its result to the parent over IPC (or prints it when run by hand).
async function main (): Promise<unknown> {
  const [name] = process.argv.slice(2)
  const quick = process.argv.includes('--quick')
  switch (name) {
    case 'resolver': return await (await import('./resolver.js')).run(quick)
    case 'compile': return await (await import('./compile.js')).run(quick)
    case 'heap-depends': return await (await import('./heap.js')).run(quick, 'depends')
    case 'heap-hooks': return await (await import('./heap.js')).run(quick, 'hooks')
    default: throw new Error(`unknown micro benchmark ${name}`)
  }
}

main().then((result) => {
  if (process.send === undefined) console.log(JSON.stringify(result, null, 2))
  else process.send({ result })
}, (err: unknown) => {
  if (process.send === undefined) console.error(err)
  else process.send({ error: String((err as Error)?.stack ?? err) })
  process.exitCode = 1
})
