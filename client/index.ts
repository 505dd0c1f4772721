/** The public client API (browser and Node ≥ 20). */
export { CloseCode, closeAdvice } from '../shared/close-codes.js'
export { WeftProvider } from './provider.js'
export type { WeftProviderOptions, WeftProviderEvents, ProviderStatus, TransportName } from './provider.js'
export { observe, Observer } from './observe.js'
export type { ObserveOptions, ObserverEvents, AwarenessEvent } from './observe.js'
export { Backoff } from './backoff.js'
export type { BackoffOptions } from './backoff.js'
