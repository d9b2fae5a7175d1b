import { startOrder } from '../../services/order/server.ts'
import { startNowOrFromSnapshot } from '../snapshot/start.ts'
import { inlinedBuild } from './inlined.ts'

startNowOrFromSnapshot('order', () => startOrder(inlinedBuild()))
