import { startPayment } from '../../services/payment/server.ts'
import { inlinedBuild } from './inlined.ts'

await startPayment(inlinedBuild())
