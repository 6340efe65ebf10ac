// W2: a synchronous tree of 20 nodes, 3 levels deep, with shared nodes (18 cache hits per request).
// The node functions take an inputs record, as dependency functions do, so the hand-written
// wiring below calls exactly the functions the plugin calls.

export type Inputs = Readonly<Record<string, number>>
export type NodeFn = (inputs: Inputs) => number

export interface W2Node {
  readonly name: string
  readonly fn: NodeFn
  /** Input key -> node name. */
  readonly inputs: Readonly<Record<string, string>>
}

const leaf = (k: number): NodeFn => () => k
const mid: NodeFn = ({ a, b }) => a * 2 + b
const top: NodeFn = ({ a, b, c }) => a + b + (c ?? 0)

/** Leaves l0-l5, mids m0-m7 (two leaves each), tops t0-t5 (two or three mids each): 20 nodes. */
export const W2_NODES: readonly W2Node[] = [
  ...[0, 1, 2, 3, 4, 5].map((i) => ({ name: `l${i}`, fn: leaf(i + 1), inputs: {} })),
  { name: 'm0', fn: mid, inputs: { a: 'l0', b: 'l1' } },
  { name: 'm1', fn: mid, inputs: { a: 'l1', b: 'l2' } },
  { name: 'm2', fn: mid, inputs: { a: 'l2', b: 'l3' } },
  { name: 'm3', fn: mid, inputs: { a: 'l3', b: 'l4' } },
  { name: 'm4', fn: mid, inputs: { a: 'l4', b: 'l5' } },
  { name: 'm5', fn: mid, inputs: { a: 'l5', b: 'l0' } },
  { name: 'm6', fn: mid, inputs: { a: 'l0', b: 'l3' } },
  { name: 'm7', fn: mid, inputs: { a: 'l1', b: 'l4' } },
  { name: 't0', fn: top, inputs: { a: 'm0', b: 'm1' } },
  { name: 't1', fn: top, inputs: { a: 'm2', b: 'm3' } },
  { name: 't2', fn: top, inputs: { a: 'm4', b: 'm5' } },
  { name: 't3', fn: top, inputs: { a: 'm6', b: 'm7', c: 'm0' } },
  { name: 't4', fn: top, inputs: { a: 'm1', b: 'm3', c: 'm5' } },
  { name: 't5', fn: top, inputs: { a: 'm2', b: 'm4', c: 'm6' } }
]

export const W2_ROOTS = ['t0', 't1', 't2', 't3', 't4', 't5'] as const

export type W2Result = Record<typeof W2_ROOTS[number], number>

const fn = (name: string): NodeFn => (W2_NODES.find((node) => node.name === name) as W2Node).fn
const [l0, l1, l2, l3, l4, l5] = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'].map(fn)
const [m0, m1, m2, m3, m4, m5, m6, m7] = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'].map(fn)
const [t0, t1, t2, t3, t4, t5] = W2_ROOTS.map(fn)
const NO_INPUTS: Inputs = Object.freeze({})

/** The tree wired by hand: each node called once, shared values reused, same inputs records. */
export function w2Direct (): W2Result {
  const vl0 = l0(NO_INPUTS)
  const vl1 = l1(NO_INPUTS)
  const vl2 = l2(NO_INPUTS)
  const vl3 = l3(NO_INPUTS)
  const vl4 = l4(NO_INPUTS)
  const vl5 = l5(NO_INPUTS)
  const vm0 = m0({ a: vl0, b: vl1 })
  const vm1 = m1({ a: vl1, b: vl2 })
  const vm2 = m2({ a: vl2, b: vl3 })
  const vm3 = m3({ a: vl3, b: vl4 })
  const vm4 = m4({ a: vl4, b: vl5 })
  const vm5 = m5({ a: vl5, b: vl0 })
  const vm6 = m6({ a: vl0, b: vl3 })
  const vm7 = m7({ a: vl1, b: vl4 })
  return {
    t0: t0({ a: vm0, b: vm1 }),
    t1: t1({ a: vm2, b: vm3 }),
    t2: t2({ a: vm4, b: vm5 }),
    t3: t3({ a: vm6, b: vm7, c: vm0 }),
    t4: t4({ a: vm1, b: vm3, c: vm5 }),
    t5: t5({ a: vm2, b: vm4, c: vm6 })
  }
}

export const W2_PATH = '/w2'
