#!/usr/bin/env node
// The installed CLI runs the compiled server (dist/, built by `npm run build` / `prepack`):
// no TypeScript loader at run time. In a checkout, `npm start` builds first.
try {
  await import('../dist/server/cli.js')
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/server/cli.js')) {
    process.stderr.write('weft: the compiled server is missing (dist/server/cli.js). In a checkout run `npm start` or `npm run build` first.\n')
    process.exit(1)
  }
  throw err
}
