import { startPayment } from '../../services/payment/server.ts'
import { startBundled } from './inlined.ts'

startBundled(startPayment)
