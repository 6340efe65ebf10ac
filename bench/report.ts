// Markdown tables, so that results can be pasted into the README as they are.

export function table (header: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, c) => (numeric[c] === true ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`
  const rule = `| ${widths.map((w, c) => (numeric[c] === true ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US')
export const fixed = (n: number, digits: number): string => n.toFixed(digits)
export const ns = (n: number): string => (n >= 10_000 ? `${(n / 1000).toFixed(1)} µs` : `${n.toFixed(0)} ns`)
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`
export const percent = (ratio: number): string => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`
