import Type, { type Static } from 'typebox'

/** A charge as order asks for it. */
export const PaymentRequest = Type.Object(
  {
    orderId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
    amount: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  },
  { additionalProperties: false },
)
export type PaymentRequest = Static<typeof PaymentRequest>

/** The pod that took a payment: what order reports as `paymentPod`. */
export const ProcessedBy = Type.Object({ pod: Type.String(), ip: Type.String(), node: Type.String() })

export const Payment = Type.Object({
  paymentId: Type.String(),
  orderId: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  status: Type.Literal('approved'),
  processedBy: ProcessedBy,
  createdAt: Type.String(),
})
export type Payment = Static<typeof Payment>
