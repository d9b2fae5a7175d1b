import type { FastifyServerOptions } from 'fastify'

/**
 * Validators and serializers for every route, generated ahead of time. `npm run build` replaces this module in the
 * bundle with the code Ajv and fast-json-stringify generated for each route's schemas (scripts/build.ts), so the
 * image compiles no schema when it starts: compiling them all took ~55 ms of CPU, over a second of a 0.05-cpu pod's
 * start-up. Run from the sources, there is none, and Fastify compiles each schema when the app gets ready.
 */
export const compilersFactory: NonNullable<FastifyServerOptions['schemaController']>['compilersFactory'] | undefined =
  undefined
