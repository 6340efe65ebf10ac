import { STATUS_CODES } from 'node:http'

/** An error with an HTTP status (and headers) that Fastify's error handler turns into the response. */
export interface HttpError extends Error {
  statusCode: number
  headers?: Record<string, string | string[]>
}

/** Builds the error a dependency throws to answer with `status` (FastAPI's `HTTPException`). */
export function httpError (status: number, message?: string, headers?: Record<string, string | string[]>): HttpError {
  const err = new Error(message ?? STATUS_CODES[status] ?? `HTTP ${status}`) as HttpError
  err.statusCode = status
  if (headers !== undefined) err.headers = headers
  return err
}
