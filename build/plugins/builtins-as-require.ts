import type { Plugin } from 'esbuild'

/**
 * Node builtins imported with ESM syntax get an ESM facade that reads every export, lazy ones included: importing
 * `node:http` loads Node's internal undici (for http.WebSocket) and `node:crypto` its webcrypto at every start, code
 * we never use. require() keeps them lazy, so the bundle gets require() for our own imports of builtins (the bundled
 * CommonJS packages already use it).
 */
export const builtinsAsRequire: Plugin = {
  name: 'builtins-as-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin' } : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}
