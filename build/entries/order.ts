import { startOrder } from '../../services/order/server.ts'
import { inlinedBuild } from './inlined.ts'

// A script has no top-level await. A start that fails is thrown as an uncaught exception, as the module's
// top-level await failed before: the process exits whatever NODE_OPTIONS says of unhandled rejections.
startOrder(inlinedBuild()).catch((error: unknown) =>
  process.nextTick(() => {
    throw error
  }),
)
