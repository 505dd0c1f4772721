#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), so `npx weft` needs no build step.
import { register } from 'tsx/esm/api'
register()
await import('../server/cli.ts')
