/**
 * A small HTTP endpoint beside the gRPC API for tests and demos run from another process:
 *
 *   GET    /faults                     current faults
 *   POST   /faults/calls               {"count": 2, "code"?: 14, "methods"?: ["GetService"], "message"?: "…"}
 *   POST   /faults/revisions           {"count": 1, "image"?: "chat", "message"?: "…", "exitCode"?: 1}
 *   POST   /faults/slow-operations     {"delayMs": 5000, "count"?: 1}
 *   DELETE /faults                     clear every fault
 *   GET    /services                   every service with its URL, traffic and conditions
 */
import http from 'node:http';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { Faults } from './faults.js';
import type { EmulatorState } from './store.js';

const count = z.number().int().min(1).max(10_000);
const callsBody = z.strictObject({
  count,
  code: z.number().int().min(1).max(16).optional(),
  methods: z.array(z.string().min(1)).optional(),
  message: z.string().optional(),
});
const revisionsBody = z.strictObject({
  count,
  image: z.string().optional(),
  message: z.string().optional(),
  exitCode: z.number().int().optional(),
});
const slowBody = z.strictObject({ delayMs: z.number().int().min(0).max(600_000), count: count.optional() });

const MAX_BODY = 64 * 1024;

export async function startAdminServer(opts: { host: string; port: number; faults: Faults; state: EmulatorState; log: Logger }): Promise<http.Server> {
  const { faults, state } = opts;
  const server = http.createServer((req, res) => {
    void handle(req).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => send(res, 400, { error: err instanceof z.ZodError ? z.prettifyError(err) : String(err) }),
    );
  });

  async function handle(req: http.IncomingMessage): Promise<[number, unknown]> {
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '')}`;
    switch (route) {
      case 'GET /faults':
        return [200, faults.state()];
      case 'DELETE /faults':
        faults.clear();
        return [200, faults.state()];
      case 'POST /faults/calls': {
        const b = callsBody.parse(await readJson(req));
        faults.failNextCalls(b.count, { ...(b.code ? { code: b.code } : {}), ...(b.methods ? { methods: b.methods } : {}), ...(b.message ? { message: b.message } : {}) });
        return [200, faults.state()];
      }
      case 'POST /faults/revisions': {
        const b = revisionsBody.parse(await readJson(req));
        faults.failNextRevisions(b.count, {
          ...(b.image ? { image: b.image } : {}),
          ...(b.message ? { message: b.message } : {}),
          ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
        });
        return [200, faults.state()];
      }
      case 'POST /faults/slow-operations': {
        const b = slowBody.parse(await readJson(req));
        faults.slowOperations(b.delayMs, b.count);
        return [200, faults.state()];
      }
      case 'GET /services':
        return [200, [...state.services.keys()].map((name) => state.getService(name))];
      default:
        return [404, { error: `no route ${route}; see src/emulator/admin.ts for the list` }];
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : {};
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
