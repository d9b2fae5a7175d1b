import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, Loopback, OFFLINE_DOMAIN } from '../../../support/services.ts'

const servers = new Loopback()
let order: string

beforeAll(async () => {
  ;({ order } = await servers.orderBehindPaymentService())
})
afterAll(() => servers.close())

describe('order GET /delivery', () => {
  it('when the other namespace’s Service does not resolve, then 502 names the name tried', async () => {
    const offline = (await servers.order({ CLUSTER_DOMAIN: OFFLINE_DOMAIN })).url
    const { status, body } = await getJson(`${offline}/delivery?via=fqdn`)
    expect(status).toBe(502)
    expect(body).toMatchObject({ code: 'DNS_FAILED', url: `http://delivery.fancy-snackbar.svc.${OFFLINE_DOMAIN}/` })
  })

  it('when delivery is asked for by its short name, then 400: the short name cannot cross namespaces', async () => {
    expect((await getJson(`${order}/delivery?via=name`)).status).toBe(400)
  })
})
