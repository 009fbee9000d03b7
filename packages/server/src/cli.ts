#!/usr/bin/env node
/**
 * The `sideloop` command. `sideloop serve [config]` runs the task server; with no config (and no
 * sideloop.config.js in the working directory) it runs the built-in demo.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { findConfig } from './config.ts';
import { favourMemory } from './memory-policy.ts';
import { startServer, type RunningServer } from './start-server.ts';

const MAIN_HELP = `Usage: sideloop <command> [options]

Commands:
  serve [config]   Run the real-time task server: loops and pools from a config (or the built-in
                   demo), an HTTP API, Socket.IO events and a live dashboard on one port.

Options:
  -h, --help       Show this help (and \`sideloop serve --help\` for the server's options)
  -v, --version    Print the version

Docs: docs/server.md`;

const SERVE_HELP = `Usage: sideloop serve [config] [options]

Arguments:
  config           A sideloop.config.js / .ts file (default export). Without it, ./sideloop.config.js
                   (.mjs, .ts) is used if present, else the built-in demo (MCP loop, feed, cpu pool).

Options:
  -p, --port <n>   Port to listen on, 0 for any free port (default 7420)
  -H, --host <h>   Address to bind (default 127.0.0.1); any address but a loopback one
                   (127.0.0.0/8, ::1, localhost) needs a token
  -t, --token <t>  Token clients must send (Authorization: Bearer <t>, Socket.IO auth.token):
                   at least 8 visible ASCII characters, no spaces;
                   default: the SIDELOOP_TOKEN environment variable
  --cluster <url>  Be a node of a cluster on this Redis (redis://host:6379): durable tasks,
                   Socket.IO events to clients of every node (docs/cluster.md); overrides the
                   config's cluster.redis. Exits with one line when Redis is not reachable within
                   cluster.connectTimeout (default 10000 ms, during which it retries), or at once
                   when it refuses the credentials
  --node <name>    This node's name in the cluster (default: hostname:pid)
  -h, --help       Show this help

Stops on SIGINT/SIGTERM after running tasks finish (a second signal forces).`;

function fail(message: string): never {
  process.stderr.write(`sideloop: ${message.split('\n')[0]}\n`);
  process.exit(1);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function serve(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string', short: 'H' },
        token: { type: 'string', short: 't' },
        cluster: { type: 'string' },
        node: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message} (see sideloop serve --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return;
  }
  if (positionals.length > 1) fail(`expected at most one config file, got ${positionals.length} (see sideloop serve --help)`);
  const port = values.port === undefined ? 7420 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`Expected \`--port\` to be an integer from 0 to 65535, got \`${values.port}\``);
  const token = values.token ?? (process.env.SIDELOOP_TOKEN || undefined);
  const config = positionals[0] ?? findConfig(process.cwd());

  let server: RunningServer | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1 || !server) {
      process.stderr.write(`sideloop: ${signal} again, stopping now\n`);
      process.exit(130);
    }
    process.stderr.write(`sideloop: ${signal}, draining running tasks (send it again to force)\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => fail(`error while closing: ${(error as Error).message}`),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  favourMemory();
  try {
    const cluster = values.cluster === undefined && values.node === undefined ? undefined : {
      ...(values.cluster === undefined ? {} : { redis: values.cluster }), ...(values.node === undefined ? {} : { node: values.node }),
    };
    server = await startServer({ config, port, ...(values.host ? { host: values.host } : {}), token, ...(cluster ? { cluster } : {}) });
  } catch (error) {
    fail((error as Error).message ?? String(error));
  }
  const names = [...server.loops.targets.values()].map((t) => `${t.name} (${t.kind})`).join(', ');
  process.stdout.write(`sideloop serve: ${server.config.source}: ${names}\n`);
  if (server.cluster) process.stdout.write(`Cluster: node "${server.cluster.cluster.node}", prefix "${server.cluster.cluster.prefix}"\n`);
  process.stdout.write(`Dashboard: ${server.url}/${token ? `?token=${encodeURIComponent(token)}` : ''}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    if (command === undefined) process.exitCode = 1;
    return;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command === 'serve') return serve(rest);
  fail(`unknown command \`${command}\` (see sideloop --help)`);
}

await main(process.argv.slice(2));
