import { startPayment } from '../../services/payment/server.ts'
import { startNowOrFromSnapshot } from '../snapshot/start.ts'
import { inlinedBuild } from './inlined.ts'

startNowOrFromSnapshot('payment', () => startPayment(inlinedBuild()))
