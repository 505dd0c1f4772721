/**
 * Doc names come from URLs: percent-decoded, length-capped, no control characters.
 * (Control characters are also what lets storage keys use \0 as a separator.)
 */
import { WeftError } from './errors.js'

export class DocNameError extends WeftError {
  override name = 'DocNameError'
  constructor (message: string) { super('malformed', message) }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export function checkDocName (name: string, maxLength: number): string {
  if (name.length === 0) throw new DocNameError('empty doc name')
  if (name.length > maxLength) throw new DocNameError(`doc name longer than ${maxLength} characters`)
  if (CONTROL.test(name)) throw new DocNameError('doc name contains control characters')
  return name
}

/** The doc name of a WebSocket upgrade: the path without its leading "/", percent-decoded. */
export function docNameFromPath (pathname: string, maxLength: number): string {
  let name: string
  try {
    name = decodeURIComponent(pathname.slice(1))
  } catch {
    throw new DocNameError('bad percent-encoding in doc name')
  }
  return checkDocName(name, maxLength)
}
