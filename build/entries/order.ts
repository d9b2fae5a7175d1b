import { startOrder } from '../../services/order/server.ts'
import { inlinedBuild } from './inlined.ts'

await startOrder(inlinedBuild())
