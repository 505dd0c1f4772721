/** The public client API (browser and Node ≥ 20). */
export { CloseCode, closeAdvice } from '../shared/close-codes.js'
