#!/usr/bin/env python3
"""HTTP throughput and CPU of sip-balancer vs HAProxy (stdlib + wrk).

  loadtest/http.py --seconds 10 --connections 32 --threads 1 [--rounds 2]

Issue 9: HTTP balancing compared with HAProxy in one invocation (the
machine is shared and noisy: read the ratios). Two nginx backends (one
nginx, one worker, two loopback ports, a small static body from a config
generated in the run directory) serve three paths, each hit with the same
`wrk -t T -c C -d S --latency`:

  direct    wrk -> backend A
  balancer  wrk -> sip-balancer httpPort -> A | B (static HTTP-only nodes)
  haproxy   wrk -> HAProxy (nbthread 1, roundrobin, option forwardfor) -> A | B

Prints a markdown table (requests/s, wrk latency p50/p99, errors, CPU % and
CPU µs per request of the proxy, of the backends, of wrk, and what else ran
on the machine), the ratios balancer / HAProxy, appends it to
loadtest/results/<date>-<hostname>.md. Exit status 0 when every path
answered without error. See loadtest/README.md.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (helpers: ticks, stop, results file)
from smpp import busy_ticks, default_bin, loadavg, median, tcp_free, wait_quiet  # noqa: E402

PATHS = ("direct", "balancer", "haproxy")
BODY = "hello from {name}: a small static body for the load test\n"


class Ports:
    def __init__(self, base):
        self.balancer = base + 30                     # balancer httpPort
        self.haproxy = base + 31
        self.backends = [base + 40, base + 41]

    def busy(self):
        tcp = [p for p in [self.balancer, self.haproxy] + self.backends if not tcp_free(p)]
        return tcp


def nginx_conf(ports, d):
    """One master, one worker, both backends; every path nginx writes is in
    the run directory (works as non-root too)."""
    servers = "".join(
        f"  server {{ listen 127.0.0.1:{p}; location / {{ default_type text/plain; "
        f"return 200 '{BODY.format(name=name)}'; }} }}\n"
        for name, p in zip("AB", ports.backends))
    tmp = os.path.join(d, "nginx-tmp")
    return (f"worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 120s;\n"
            f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
            f"  scgi_temp_path {tmp}/scgi;\n" + servers + "}\n")


def haproxy_conf(ports):
    backends = "".join(f"  server {name} 127.0.0.1:{p}\n" for name, p in zip("ab", ports.backends))
    return ("global\n  nbthread 1\n  maxconn 4000\n\n"
            "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n"
            "  timeout server 60s\n  option http-keep-alive\n  option forwardfor\n\n"
            f"frontend fe\n  bind 127.0.0.1:{ports.haproxy}\n  default_backend be\n\n"
            "backend be\n  balance roundrobin\n" + backends)


def balancer_yaml(ports, shards):
    """SIP off, the two backends as static HTTP-only
    nodes (not probed: always up), statistics and JSON heartbeats off."""
    nodes = "".join(f"  - {{ ip: 127.0.0.1, httpPort: {p}, hostname: web{name} }}\n"
                    for name, p in zip("AB", ports.backends))
    return (f"cores: {shards}\n"
            "sip: { enabled: false }\n"
            "nodes:\n" + nodes +
            "statisticPort: 0\nheartbeatPort: 0\n"
            f"http: {{ httpPort: {ports.balancer} }}\n")


def spawn(name, cmd, rundir, env=None):
    with open(os.path.join(rundir, f"{name}.cmd"), "w") as f:
        f.write(shlex.join(cmd) + "\n")
    out = open(os.path.join(rundir, f"{name}.out"), "w")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=rundir,
                            start_new_session=True)


def get(port, timeout=1.0):
    """Body of GET / on a new connection (None unless 200). Raw socket: this
    file is named http.py, which hides the standard library's `http`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    return body.decode(errors="replace")


def wait_http(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        if get(port, 0.5) is not None:
            return True
        time.sleep(0.1)
    return False


def start_all(args, ports, rundir):
    """nginx, the balancer, HAProxy: {name: Popen}, or an error string."""
    procs = {}
    os.makedirs(os.path.join(rundir, "nginx-tmp"), exist_ok=True)
    with open(os.path.join(rundir, "nginx.conf"), "w") as f:
        f.write(nginx_conf(ports, rundir))
    procs["nginx"] = spawn("nginx", ["taskset", "-c", args.client_cpus, args.nginx_bin, "-p", rundir,
                                     "-c", os.path.join(rundir, "nginx.conf")], rundir)
    if not all(wait_http(p, procs["nginx"]) for p in ports.backends):
        return procs, f"nginx did not serve {ports.backends} (see {rundir}/nginx.out)"
    proxy_cpus = args.proxy_cpus or run.target_cpus(args.shards)[0]
    with open(os.path.join(rundir, "balancer.yaml"), "w") as f:
        f.write(balancer_yaml(ports, args.shards))
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    procs["balancer"] = spawn("balancer", ["taskset", "-c", proxy_cpus, args.balancer_bin, "--config",
                                           os.path.join(rundir, "balancer.yaml")], rundir, env)
    with open(os.path.join(rundir, "haproxy.cfg"), "w") as f:
        f.write(haproxy_conf(ports))
    procs["haproxy"] = spawn("haproxy", ["taskset", "-c", proxy_cpus, args.haproxy_bin, "-db", "-f",
                                         os.path.join(rundir, "haproxy.cfg")], rundir)
    for name, port in (("balancer", ports.balancer), ("haproxy", ports.haproxy)):
        if not wait_http(port, procs[name]):
            return procs, f"{name} did not serve {port} (see {rundir}/{name}.out)"
    return procs, None


def spread(port):
    """Which backends 8 sequential requests reached (each a new connection)."""
    seen = set()
    for _ in range(8):
        body = get(port) or ""
        m = re.match(r"hello from (\w)", body)
        seen.add(m.group(1) if m else "?")
    return "".join(sorted(seen))


def parse_wrk(text):
    """Requests/s, latency p50/p99 (ms), requests, non-2xx, socket errors."""
    def unit_ms(v, u):
        return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]

    r = {"rps": None, "p50": None, "p99": None, "requests": None, "non2xx": 0, "sock_err": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if m:
            r[key] = unit_ms(m.group(1), m.group(2))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["sock_err"] = sum(int(x) for x in m.groups())
        r["sock_detail"] = m.group(0)
    return r


def measure(args, path, port, proxy, nginx, rundir, tag):
    cmd = ["taskset", "-c", args.client_cpus, args.wrk_bin, "-t", str(args.threads),
           "-c", str(args.connections), "-d", f"{args.seconds:g}s", "--latency",
           f"http://127.0.0.1:{port}/"]
    ng = run.proc_tree(nginx.pid)
    p0 = run.proc_ticks(proxy.pid) if proxy else 0
    n0, a0, w0 = run.tree_ticks(ng), busy_ticks(), time.monotonic()
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    k0 = run.proc_ticks(wrk.pid) or 0   # ~0: just started
    try:
        # wrk's own ticks, read while it is still there (after -d it prints and exits)
        time.sleep(args.seconds - 0.05)
        k1 = run.proc_ticks(wrk.pid) or 0
        out, _ = wrk.communicate(timeout=args.seconds + 15)
    except subprocess.TimeoutExpired:
        run.stop(wrk, signal.SIGKILL)
        return {"path": path, "error": "wrk over its time bound (killed)"}
    p1 = run.proc_ticks(proxy.pid) if proxy else 0
    n1, a1, w1 = run.tree_ticks(ng), busy_ticks(), time.monotonic()
    text = out.decode(errors="replace")
    with open(os.path.join(rundir, f"wrk-{tag}.txt"), "w") as f:
        f.write(shlex.join(cmd) + "\n" + text)
    r = parse_wrk(text)
    r["path"] = path
    if r["rps"] is None:
        return {"path": path, "error": f"no wrk result (see {rundir}/wrk-{tag}.txt)"}
    wall = max(1e-6, w1 - w0)
    pt = (p1 or 0) - (p0 or 0)
    r["proxy_cpu"] = 100.0 * pt / run.CLK_TCK / wall if proxy else None
    r["proxy_us"] = 1e6 * pt / run.CLK_TCK / r["requests"] if proxy and r["requests"] else None
    r["nginx_cpu"] = 100.0 * (n1 - n0) / run.CLK_TCK / wall
    r["wrk_cpu"] = 100.0 * (k1 - k0) / run.CLK_TCK / wall
    r["other_cpu"] = max(0.0, 100.0 * (a1 - a0 - pt - (n1 - n0) - (k1 - k0)) / run.CLK_TCK / wall)
    r["alive"] = proxy is None or proxy.poll() is None
    return r


def fmt(v, f="{:.1f}"):
    return "–" if v is None else f.format(v)


HEADER = ("| round | path | wrk | requests/s | × direct | × haproxy | p50 / p99 ms | errors | "
          "proxy CPU % | proxy CPU µs/req | × haproxy µs/req | nginx CPU % | wrk CPU % | "
          "others CPU % |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def row(args, rnd, r, by_path):
    if r.get("error"):
        return f"| {rnd} | {r['path']} | – | {r['error']} |" + " – |" * 10
    d, h = by_path.get("direct"), by_path.get("haproxy")
    x_direct = r["rps"] / d["rps"] if d else None
    x_hap = r["rps"] / h["rps"] if h and r["path"] != "direct" else None
    x_us = (r["proxy_us"] / h["proxy_us"] if h and h.get("proxy_us") and r.get("proxy_us")
            and r["path"] != "direct" else None)
    errs = r["non2xx"] + r["sock_err"]
    err_txt = str(errs) if not errs else f"{r['non2xx']} non-2xx; {r.get('sock_detail', '')}"
    return (f"| {rnd} | {r['path']} | -t{args.threads} -c{args.connections} -d{args.seconds:g}s | "
            f"{r['rps']:.0f} | {fmt(x_direct, '{:.2f}')} | {fmt(x_hap, '{:.2f}')} | "
            f"{fmt(r['p50'], '{:.2f}')} / {fmt(r['p99'], '{:.2f}')} | {err_txt} | "
            f"{fmt(r['proxy_cpu'])} | {fmt(r['proxy_us'], '{:.1f}')} | {fmt(x_us, '{:.2f}')} | "
            f"{r['nginx_cpu']:.0f} | {r['wrk_cpu']:.0f} | {r['other_cpu']:.0f} |")


def run_all(args, rundir):
    ports = Ports(args.base_port)
    busy = ports.busy()
    if busy:
        return f"ports busy: {busy}", [], {}
    procs, results, spreads = {}, [], {}
    try:
        procs, err = start_all(args, ports, rundir)
        if err:
            return err, [], {}
        spreads = {"balancer": spread(ports.balancer), "haproxy": spread(ports.haproxy)}
        run.log(f"backends reached by 8 requests: {spreads}")
        port = {"direct": ports.backends[0], "balancer": ports.balancer, "haproxy": ports.haproxy}
        for rnd in range(1, args.rounds + 1):
            order = PATHS if rnd % 2 else ("direct", "haproxy", "balancer")
            for path in order:
                run.log(f"== round {rnd}: {path}")
                if args.quiet_wait > 0:
                    wait_quiet(args.quiet_wait)
                r = measure(args, path, port[path], procs.get(path), procs["nginx"], rundir,
                            f"{rnd}-{path}")
                r["round"] = rnd
                if not r.get("error"):
                    run.log(f"   {r['rps']:.0f} req/s, p50 {fmt(r['p50'], '{:.2f}')} ms, p99 "
                            f"{fmt(r['p99'], '{:.2f}')} ms, errors {r['non2xx'] + r['sock_err']}, "
                            f"proxy CPU {fmt(r['proxy_cpu'])} %")
                results.append(r)
                if not r.get("error") and not r["alive"]:
                    return f"{path} exited during the run", results, spreads
    finally:
        for name in ("haproxy", "balancer", "nginx"):
            run.stop(procs.get(name), signal.SIGTERM)
    return None, results, spreads


def report(args, results, spreads, rundir, load_before):
    lines, rps_ratio, us_ratio = [], [], []
    for rnd in range(1, args.rounds + 1):
        mine = [r for r in results if r["round"] == rnd]
        by_path = {r["path"]: r for r in mine if not r.get("error")}
        lines += [row(args, rnd, r, by_path) for r in mine]
        b, h = by_path.get("balancer"), by_path.get("haproxy")
        if b and h:
            rps_ratio.append(b["rps"] / h["rps"])
            if b.get("proxy_us") and h.get("proxy_us"):
                us_ratio.append(b["proxy_us"] / h["proxy_us"])
    table = HEADER + "\n" + "\n".join(lines)
    clean = (len(results) == 3 * args.rounds
             and all(not r.get("error") and r["non2xx"] + r["sock_err"] == 0 for r in results))
    verdict = (f"balancer / HAProxy: requests/s × {fmt(median(rps_ratio), '{:.2f}')} (rounds "
               f"{', '.join(f'{x:.2f}' for x in rps_ratio) or '–'}), CPU per request × "
               f"{fmt(median(us_ratio), '{:.2f}')} (rounds {', '.join(f'{x:.2f}' for x in us_ratio) or '–'}); "
               f"medians; errors {'none' if clean else 'SEEN'}")
    print("\n" + table + "\n\n" + verdict)
    proxy_cpus = args.proxy_cpus or run.target_cpus(args.shards)[0]
    notes = [
        f"host {socket.gethostname()}, {os.cpu_count()} CPUs, loadavg before {load_before}, at end {loadavg()}",
        f"pinning: wrk and nginx (1 worker, both backends) on CPUs {args.client_cpus}; the balancer "
        f"({args.shards} shard) and HAProxy (nbthread 1) on CPUs {proxy_cpus}, one at a time under load",
        f"backends reached by 8 sequential requests (new connection each): balancer {spreads.get('balancer')}, "
        f"HAProxy {spreads.get('haproxy')}",
        "HAProxy: roundrobin, keep-alive, option forwardfor, default http-reuse (safe); balancer: "
        "static HTTP-only nodes, round robin, default addForwardedHeaders (X-Forwarded-For, "
        "X-Forwarded-Proto, Forwarded); nginx keepalive_requests 1000000, `return 200` body "
        f"of {len(BODY.format(name='A'))} bytes",
        "requests/s, latency: wrk; CPU % from /proc/<pid>/stat utime+stime over the wrk run; "
        "µs/req = proxy CPU ÷ wrk's request count; others = all CPUs' busy time minus the "
        "processes in the table (other sessions' builds, steal)",
        verdict,
        f"raw files: {rundir}"]
    path = run.write_results(f"HTTP through the balancer vs HAProxy, wrk -t{args.threads} "
                             f"-c{args.connections} -d{args.seconds:g}s", args.command_line, table, notes)
    run.log(f"results appended to {path}")
    return 0 if clean else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="wrk -d per path")
    ap.add_argument("--connections", type=int, default=32, help="wrk -c")
    ap.add_argument("--threads", type=int, default=1, help="wrk -t")
    ap.add_argument("--rounds", type=int, default=2,
                    help="direct, balancer, haproxy (even rounds: haproxy before balancer)")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="before each path wait up to this many seconds for a second with "
                         "the machine < 10 %% busy (0: don't)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--client-cpus", default="0", help="CPUs of wrk and nginx")
    ap.add_argument("--proxy-cpus", default=None,
                    help="CPUs of the balancer and HAProxy (default: 1 shard on CPU 1, as run.py)")
    ap.add_argument("--base-port", type=int, default=26200,
                    help="balancer base+30, HAProxy base+31, "
                         "backends base+40, base+41 (TCP)")
    ap.add_argument("--balancer-bin", default=default_bin())
    ap.add_argument("--haproxy-bin", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ap.add_argument("--nginx-bin", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--wrk-bin", default=shutil.which("wrk") or "/usr/bin/wrk")
    ap.add_argument("--workdir", default="/tmp/sip-lb-loadtest")
    args = ap.parse_args()
    args.command_line = "loadtest/http.py " + shlex.join(sys.argv[1:])
    missing = [b for b in (args.balancer_bin, args.haproxy_bin, args.nginx_bin, args.wrk_bin)
               if not os.path.exists(b)]
    if missing:
        run.log(f"missing: {missing} (cargo build --release; apt-get install -y wrk haproxy nginx)")
        return 2
    load_before = loadavg()
    rundir = run.run_dir(args, "http")
    err, results, spreads = run_all(args, rundir)
    if err:
        run.log(err)
        if not results:
            return 2
    return report(args, results, spreads, rundir, load_before)


if __name__ == "__main__":
    sys.exit(main())
