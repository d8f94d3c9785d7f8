import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Writes one benchmark's section of BENCHMARKS.md, between its own markers, leaving the others. */
export function recordSection(name: string, section: string): void {
  const file = new URL('../BENCHMARKS.md', import.meta.url);
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${begin}\n${section}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const pattern = new RegExp(`${begin}[\\s\\S]*?${end}`);
  const updated = pattern.test(current)
    ? current.replace(pattern, block)
    : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, updated);
}

/** The q-quantile of `values` (nearest rank), NaN for none. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
