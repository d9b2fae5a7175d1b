import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, identity, Loopback, OFFLINE_DOMAIN, OFFLINE_NAMESPACE } from '../../../support/services.ts'

const servers = new Loopback()
let paymentEnv: Record<string, string>

beforeAll(async () => {
  ;({ paymentEnv } = await servers.orderBehindPaymentService())
})
afterAll(() => servers.close())

describe('order GET /discovery', () => {
  it('when discovery is asked for, then it shows the Service variables, resolv.conf and every name form', async () => {
    // Names the resolver answers from /etc/hosts or turns away itself, but one: discovery looks each up for real.
    const env = {
      ...paymentEnv,
      UPSTREAM_PAYMENT_NAME: 'localhost',
      UPSTREAM_DELIVERY_NAME: 'localhost',
      CLUSTER_DOMAIN: OFFLINE_DOMAIN,
    }
    const discovering = (
      await servers.order(env, { identity: { ...identity('order', 'order-offline'), namespace: OFFLINE_NAMESPACE } })
    ).url
    const { body } = await getJson<Record<string, any>>(`${discovering}/discovery`)
    expect(body.serviceVariables).toEqual(paymentEnv)
    expect(body.resolvConf.nameservers.length).toBeGreaterThan(0)
    expect(body.names).toEqual([
      { name: 'localhost', addresses: ['127.0.0.1'], error: null },
      { name: `localhost.${OFFLINE_NAMESPACE}`, addresses: [], error: expect.any(String) },
      { name: `localhost.${OFFLINE_NAMESPACE}.svc.${OFFLINE_DOMAIN}`, addresses: [], error: expect.any(String) },
      { name: 'localhost', addresses: ['127.0.0.1'], error: null },
      { name: 'localhost.fancy-snackbar', addresses: [], error: expect.any(String) },
      { name: `localhost.fancy-snackbar.svc.${OFFLINE_DOMAIN}`, addresses: [], error: expect.any(String) },
    ])
    const text = await (await fetch(`${discovering}/discovery`)).text()
    expect(text).toContain(`PAYMENT_SERVICE_HOST=${paymentEnv.PAYMENT_SERVICE_HOST}`)
    expect(text).toMatch(/^ {2}localhost +-> 127\.0\.0\.1$/m)
  })
})
