import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Secrets are redacted by path as a second line of defence; the first is
 * that no code logs a token, passphrase or key in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'trustroot' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'passphrase',
          'password',
          'token',
          'privateKey',
          'privateKeyPem',
          '*.passphrase',
          '*.password',
          '*.token',
          '*.privateKey',
          '*.privateKeyPem',
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
