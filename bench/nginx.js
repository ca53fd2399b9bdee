/**
 * nginx as the bench's peer reverse proxy: started in the foreground with a config of its own in a
 * temporary folder (keep-alive to the upstream, WebSocket upgrades passed on, no access log), on a
 * port of its own, and stopped by its pid. `startNginx` returns null when no nginx is installed, so
 * the figure can say "not measured" instead of failing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

/** The nginx binary on PATH (or BENCH_NGINX), or null. */
export function findNginx() {
  const candidates = [process.env.BENCH_NGINX, 'nginx', '/usr/sbin/nginx'].filter(Boolean);
  for (const bin of candidates) {
    const r = spawnSync(bin, ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status === 0) return { bin, version: String(r.stderr).trim().replace(/^nginx version:\s*/, '') };
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function config(dir, port, upstreamPort, workers) {
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream service {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

async function waitForPort(port, child, ms) {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} before listening`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nginx did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU time (ms) of a process from /proc: user + system, in clock ticks of 10 ms on Linux. */
async function procCpuMs(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are utime and stime; after the comm field they are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function childPids(pid) {
  const out = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const kids = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    out.push(...kids.split(' ').filter(Boolean).map(Number));
  }
  return out;
}

/**
 * Starts nginx in front of `upstreamUrl`. Returns null when nginx is not installed; otherwise its
 * URL, a CPU counter over master and workers, and stop().
 */
export async function startNginx(upstreamUrl, { workers = Number(process.env.BENCH_NGINX_WORKERS || 1) } = {}) {
  const found = findNginx();
  if (!found) return null;
  const dir = await mkdtemp(join(os.tmpdir(), 'deploy-loop-bench-nginx-'));
  const port = await freePort();
  await writeFile(join(dir, 'nginx.conf'), config(dir, port, new URL(upstreamUrl).port, workers));
  const child = spawn(found.bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    await waitForPort(port, child, 5000);
  } catch (err) {
    child.kill('SIGKILL');
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${err.message}: ${stderr}${log}`);
  }
  const cpuMs = async () => {
    let total = await procCpuMs(child.pid);
    for (const kid of await childPids(child.pid)) total += await procCpuMs(kid).catch(() => 0);
    return total;
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // nginx's fast shutdown
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  return { url: `http://127.0.0.1:${port}`, version: found.version, workers, cpuMs, stop };
}
