import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Query } from '../../../services/shared/schemas.ts'
import { serviceApp } from '../../support/services.ts'

// Routes whose schemas have each kind of field; each answers what reached its handler, so a test sees the conversion.
const app = serviceApp()

beforeAll(async () => {
  const Size = Type.Enum(['small', 'large'])
  const Body = Type.Object(
    { item: Type.String(), quantity: Type.Integer(), tip: Type.Optional(Type.Number()), size: Type.Optional(Size) },
    { additionalProperties: false },
  )
  app.post('/bodies', { schema: { body: Body } }, async ({ body }) => body)
  const Search = Query({
    n: Type.Integer({ minimum: 1, default: 10 }),
    ratio: Type.Optional(Type.Number()),
    loud: Type.Optional(Type.Boolean()),
    size: Type.Optional(Size),
  })
  app.get('/search', { schema: { querystring: Search } }, async ({ query }) => query)
  app.get('/items/:id', { schema: { params: Type.Object({ id: Type.Integer() }) } }, async ({ params }) => params)
  await app.ready()
})
afterAll(() => app.close())

const post = (payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/bodies', payload, headers: { accept: 'application/json' } })
const get = (url: string) => app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })

describe('bodies are checked as they are', () => {
  it('when a body matches its schema, then the handler gets it unchanged', async () => {
    const body = { item: 'kimbap', quantity: 2, tip: 0.5, size: 'large' }

    const response = await post(body)

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual(body)
  })

  it.each([
    ['a boolean for a number', { item: 'kimbap', quantity: true }, 'body/quantity must be integer'],
    ['text for a number', { item: 'kimbap', quantity: '2' }, 'body/quantity must be integer'],
    ['an array for a string', { item: ['kimbap'], quantity: 1 }, 'body/item must be string'],
    ['a number for a string', { item: 7, quantity: 1 }, 'body/item must be string'],
  ])('when a body has %s, then 400 says which field and what it must be', async (_what, body, message) => {
    const response = await post(body)

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION', message })
  })

  it('when a body has properties the schema does not name, then 400 names each of them', async () => {
    const response = await post({ item: 'kimbap', quantity: 1, colour: 'red', extra: true })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('body must not have additional properties: colour, extra')
  })

  it('when an enum field has another value, then 400 lists the allowed values', async () => {
    const response = await post({ item: 'kimbap', quantity: 1, size: 'huge' })

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('body/size must be equal to one of the allowed values: small, large')
  })
})

describe('querystrings and path parameters are converted from text, strictly', () => {
  it('when numbers and booleans are written plainly, then the handler gets numbers and booleans', async () => {
    const response = await get('/search?n=20&ratio=-.5&loud=true')

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ n: 20, ratio: -0.5, loud: true })
  })

  it('when a parameter with a default is left out, then the handler gets the default', async () => {
    const response = await get('/search')

    expect(response.json()).toEqual({ n: 10 })
  })

  it('when an exponent is written, then it is a number', async () => {
    const response = await get('/search?n=1e2&ratio=2.5E-1')

    expect(response.json()).toEqual({ n: 100, ratio: 0.25 })
  })

  it.each([
    ['n=1.5', 'a fraction is no integer', 'querystring/n must be integer'],
    ['n=0x10', 'hex is not how people write numbers', 'querystring/n must be integer'],
    ['n=', 'an empty value does not stand for 0', 'querystring/n must be integer'],
    ['n=%201', 'a blank before the digits is not a number', 'querystring/n must be integer'],
    ['n=1&n=2', 'a repeated parameter is no scalar', 'querystring/n must be integer'],
    ['ratio=false', 'false is no number', 'querystring/ratio must be number'],
    ['ratio=1e999', 'a number too large is Infinity, and that is no number', 'querystring/ratio must be number'],
    ['loud=yes', 'only true and false are booleans', 'querystring/loud must be boolean'],
  ])('when the query is ?%s (%s), then 400 names the parameter', async (query, _why, message) => {
    const response = await get(`/search?${query}`)

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe(message)
  })

  it('when a query value breaks a bound, then 400 says the bound', async () => {
    const response = await get('/search?n=0')

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('querystring/n must be >= 1')
  })

  it('when an enum parameter has another value, then 400 lists the allowed values', async () => {
    const response = await get('/search?size=huge')

    expect(response.json().message).toBe('querystring/size must be equal to one of the allowed values: small, large')
  })

  it('when ?format= is not a format, then 400 lists the formats every route takes', async () => {
    const response = await get('/search?format=yaml')

    expect(response.json().message).toBe(
      'querystring/format must be equal to one of the allowed values: text, json, html',
    )
  })

  it('when the query has parameters no schema names, then they are let through (a cache-buster works)', async () => {
    const response = await get('/search?n=3&_=1712345678')

    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ n: 3 })
  })

  it('when a path parameter is a plain integer, then the handler gets a number', async () => {
    const response = await get('/items/7')

    expect(response.json()).toEqual({ id: 7 })
  })

  it('when a path parameter is a fraction, then 400 names it', async () => {
    const response = await get('/items/1.5')

    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('params/id must be integer')
  })
})
