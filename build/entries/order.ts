import { startOrder } from '../../services/order/server.ts'
import { startBundled } from './inlined.ts'

startBundled(startOrder)
