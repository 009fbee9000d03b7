/** The loop module of a source that runs on a loop of its own: only the source service. */
export { sideloopSource } from './run-source.ts';
