import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { bufferedStdout, escapeControls } from '../../../../services/shared/plugins/logging.ts'

describe('bufferedStdout', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'snackbar-log-')), 'out.log')
  let fd: number
  afterEach(() => closeSync(fd))

  it('when a turn logs several lines, then none is written during it and all are written, in order, after it', async () => {
    fd = openSync(file, 'w')
    const stream = bufferedStdout(fd)
    stream.write('{"n":1}\n')
    stream.write('{"n":2}\n')
    expect(readFileSync(file, 'utf8')).toBe('')
    await nextTurn()
    stream.write('{"n":3}\n')
    await nextTurn()
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n')
  })

  it('when a line holds characters of several bytes, then every byte of it is written', async () => {
    fd = openSync(file, 'w')
    const line = `{"msg":"${'김밥'.repeat(5000)}"}\n`
    bufferedStdout(fd).write(line)
    await nextTurn()
    expect(readFileSync(file, 'utf8')).toBe(line)
  })
})

describe('escapeControls', () => {
  it('when a line holds C1 controls, DEL or U+2028, then they are written as \\u escapes', () => {
    expect(escapeControls('a\u0085b\u007fc\u2028d')).toBe('a\\u0085b\\u007fc\\u2028d')
  })
})
