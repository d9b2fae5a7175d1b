import Type, { type Static } from 'typebox'
import { Address, Name } from '../shared/schemas.ts'

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
export const ProcessedBy = Type.Object({ pod: Name, ip: Address, node: Name })

/** A payment as payment answers it, and as order accepts it: order checks payment's answers against this. */
export const Payment = Type.Object({
  paymentId: Type.String({ pattern: '^pay_[A-Za-z0-9-]{1,64}$' }),
  orderId: PaymentRequest.properties.orderId,
  amount: PaymentRequest.properties.amount,
  currency: PaymentRequest.properties.currency,
  status: Type.Literal('approved'),
  processedBy: ProcessedBy,
  createdAt: Type.String({ maxLength: 32 }),
})
export type Payment = Static<typeof Payment>
