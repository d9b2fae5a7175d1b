import { describe, expect, it } from 'vitest'
import {
  assetVersion,
  contentHash,
  escapeHtml,
  fill,
  podFacts,
  type StaticAsset,
} from '../../../../services/shared/page/template.ts'
import { identity } from '../../../support/services.ts'

const MARKUP = `<img src=x onerror="alert('pwned')">&`
const ESCAPED = '&lt;img src=x onerror=&quot;alert(&#39;pwned&#39;)&quot;&gt;&amp;'

describe('escapeHtml', () => {
  it('when text has markup, then all five special characters are escaped', () => {
    expect(escapeHtml(MARKUP)).toBe(ESCAPED)
  })
})

describe('fill', () => {
  it('when a value is plain text, then it is escaped where the template names it, every time', () => {
    const template = '<title>{{pod}}</title><h1>{{pod}}</h1>'

    const page = fill(template, { pod: MARKUP })

    expect(page).toBe(`<title>${ESCAPED}</title><h1>${ESCAPED}</h1>`)
  })

  it('when a value is a number, then it is written as text', () => {
    expect(fill('<p data-n="{{n}}">', { n: 10 })).toBe('<p data-n="10">')
  })

  it('when a value is RawHtml, then its markup goes in as it is', () => {
    const page = fill('<main>{{rows}}</main>', { rows: { html: '<tr><td>1</td></tr>' } })

    expect(page).toBe('<main><tr><td>1</td></tr></main>')
  })

  it('when the template names a key with no value, then it throws naming the key', () => {
    const filling = () => fill('<p>{{pod}} on {{node}}</p>', { pod: 'payment-a' })

    expect(filling).toThrow('page template names {{node}} but no value was given')
  })

  it('when values has keys the template does not name, then they are ignored', () => {
    expect(fill('<p>{{pod}}</p>', { pod: 'payment-a', node: 'worker-1' })).toBe('<p>payment-a</p>')
  })

  it('when a value itself looks like a placeholder, then it is not filled again', () => {
    expect(fill('<p>{{a}}</p>', { a: '{{b}}', b: 'nope' })).toBe('<p>{{b}}</p>')
  })
})

describe('podFacts', () => {
  it('when a pod is shown, then its name, IP, namespace and node are listed in that order, the name with its id', () => {
    const facts = podFacts({ ...identity('payment', 'payment-7d9c-abcde'), ip: '10.244.1.7', node: 'worker-1' })

    expect(facts.html).toBe(
      '<dl class="who"><dt>Pod</dt><dd id="me-pod">payment-7d9c-abcde</dd><dt>IP</dt><dd>10.244.1.7</dd>' +
        '<dt>Namespace</dt><dd>snackbar</dd><dt>Node</dt><dd>worker-1</dd></dl>',
    )
  })

  it('when a fact holds markup, then it is escaped', () => {
    const facts = podFacts({ ...identity('payment', MARKUP), node: '<b>' })

    expect(facts.html).toContain(`<dd id="me-pod">${ESCAPED}</dd>`)
    expect(facts.html).toContain('<dd>&lt;b&gt;</dd>')
    expect(facts.html).not.toContain('<img')
  })
})

describe('contentHash', () => {
  it('when the same content is hashed twice, then the hash is the same 12 hex digits', () => {
    expect(contentHash('body { color: red }')).toMatch(/^[0-9a-f]{12}$/)
    expect(contentHash('body { color: red }')).toBe(contentHash('body { color: red }'))
  })

  it('when one character changes, then the hash changes', () => {
    expect(contentHash('body { color: red }')).not.toBe(contentHash('body { color: rod }'))
  })

  it('when any one asset changes, then the version the page puts in asset URLs changes', () => {
    const css: StaticAsset = { url: '/ui/app.css', contentType: 'text/css', body: 'p{}' }
    const js: StaticAsset = { url: '/ui/order.js', contentType: 'text/javascript', body: 'let a' }

    const before = assetVersion([css, js])
    const after = assetVersion([css, { ...js, body: 'let b' }])

    expect(after).not.toBe(before)
    expect(before).toBe(contentHash('p{}', 'let a'))
  })
})
