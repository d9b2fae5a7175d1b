// Markdown pieces the report's sections share.
export type Cell = string | number | null | undefined

export function table(header: string[], rows: Cell[][]): string {
  const cell = (value: Cell) => (value === null || value === undefined || Number.isNaN(value) ? '–' : String(value))
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n')
}

export const pct = (ratio: number) => (Number.isFinite(ratio) ? `${Math.round(ratio * 100)}%` : '–')
export const mark = (pass: boolean | null) => (pass === null ? '–' : pass ? 'met' : '**missed**')
export const pair = (ours: Cell, bare: Cell) => `${ours ?? '–'} / ${bare ?? '–'}`
