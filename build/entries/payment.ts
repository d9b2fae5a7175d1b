import { startPayment } from '../../services/payment/server.ts'
import { inlinedBuild } from './inlined.ts'

// A script has no top-level await; a start that fails is an unhandled rejection, and Node exits with it.
void startPayment(inlinedBuild())
