/**
 * The browser bundle (`npm run build:client` → dist/browser/weft-client.js, ESM, minified):
 * the client API plus the Yjs and awareness modules it was built with, so a page uses one
 * Yjs instance for its docs and the provider (two copies of Yjs break `instanceof` checks).
 */
export * from './index.js'
export * as Y from 'yjs'
export * as awarenessProtocol from 'y-protocols/awareness'
