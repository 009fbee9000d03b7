import { SideloopError } from 'sideloop';
import { registerSideloopErrorClass } from 'sideloop/remote';

/** The server could not start: a loop or service failed its readiness, the port is taken, a token is missing. */
export class ServerStartError extends SideloopError {
  override readonly code = 'SIDELOOP_SERVER_START';
}
registerSideloopErrorClass(ServerStartError);
