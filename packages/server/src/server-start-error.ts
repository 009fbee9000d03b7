/** The server could not start: a loop or service failed its readiness, the port is taken, a token is missing. */
export class ServerStartError extends Error {
  readonly code = 'SIDELOOP_SERVER_START';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServerStartError';
  }
}
