/**
 * Preloaded (`node --import`) into the MCP server child that the demo's `mcp` loop spawns: the child ends once its
 * stdin ends. Its stdin is a pipe from the server process, so it ends when the session closes and also when the
 * loop's thread is terminated or the server process is gone, however it went (exit, crash, SIGKILL). The "everything"
 * server alone keeps running while a tool call is in progress, until it next writes to the closed pipe.
 */
process.stdin.once('end', () => process.exit(0));

export {};
