import { describe, expect, it } from 'vitest'
import { readOrderConfig } from '../../../services/order/config.ts'
import { orderAssets, orderPage } from '../../../services/order/page.ts'
import { sourceBuild } from '../../../services/shared/build.ts'
import { assetVersion } from '../../../services/shared/page/template.ts'
import { identity } from '../../support/services.ts'

const { readPageFile } = sourceBuild()
const template = readPageFile('services/order/page/index.html')
const assets = orderAssets(readPageFile)
const pod = identity('order', 'order-5c9f-x2k4q')

describe('order page', () => {
  it('when the pod has the payment Service variables, then the page shows the address they give and every name form', () => {
    const config = readOrderConfig({ PAYMENT_SERVICE_HOST: '10.96.143.21', PAYMENT_SERVICE_PORT: '80' })

    const html = orderPage(template, assets, pod, config)

    expect(html).toContain('<code>10.96.143.21:80</code>')
    expect(html).toContain('<code>payment</code>, completed by the search path')
    expect(html).toContain('<code>payment.snackbar.svc.cluster.local</code>')
    expect(html).toContain('Call <code>delivery.fancy-snackbar</code>')
    expect(html).toContain('data-n="3"')
  })

  it('when the pod started before the payment Service, then the page says the variables are not set', () => {
    const html = orderPage(template, assets, pod, readOrderConfig({}))

    expect(html).toContain('<code>not set</code>')
  })

  it('when the menu is offered, then each snack is an option with its price', () => {
    const html = orderPage(template, assets, pod, readOrderConfig({}))

    expect(html).toContain('<option value="kimbap">Kimbap 김밥, 3,500 KRW</option>')
    expect(html.match(/<option /g)).toHaveLength(5)
  })

  it('when the pod name holds markup, then it is escaped', () => {
    const html = orderPage(template, assets, { ...pod, pod: '<b>order</b>' }, readOrderConfig({}))

    expect(html).toContain('&lt;b&gt;order&lt;/b&gt;')
    expect(html).not.toContain('<b>order</b>')
  })

  it('when the page names its assets, then their URLs carry the assets’ content hash', () => {
    const html = orderPage(template, assets, pod, readOrderConfig({}))

    const versions = [...html.matchAll(/\/ui\/(?:app\.css|order\.js)\?v=([0-9a-f]+)/g)].map(([, version]) => version)
    expect(versions).toEqual([assetVersion(assets), assetVersion(assets)])
  })
})
