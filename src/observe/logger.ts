import pino, { type DestinationStream } from 'pino';

/** Log levels in order of importance. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Fields whose values must never reach a log line, wherever a caller puts them: credentials of
 * the API, of sources and of targets. Callers log key prefixes and reasons, never these; this is
 * the net under that rule.
 */
const REDACTED = [
  'authorization',
  'key',
  'apiKey',
  'secret',
  'signature',
  'password',
  'token',
  // The vault: a secret's value (PUT /v1/secrets/{name} takes `{ value }`), a signing secret, a vault key.
  'value',
  'signingSecret',
  'secretKey',
  '*.value',
  '*.signingSecret',
  '*.*.secret',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  '*.authorization',
  '*.secret',
  '*.password',
  '*.token',
];

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * One JSON object per line (`time`, `level`, `message`, then the fields) on stdout, by pino.
 * `destination` is where lines go instead (tests capture them).
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  if (level === 'silent') return silent;
  const base = pino(
    {
      level,
      base: undefined,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  const at =
    (write: pino.LogFn) =>
    (message: string, fields?: Record<string, unknown>): void =>
      fields === undefined ? write.call(base, message) : write.call(base, fields, message);
  return { debug: at(base.debug), info: at(base.info), warn: at(base.warn), error: at(base.error) };
}
