#!/usr/bin/env python3
"""SMPP throughput through sip-balancer as a ratio to direct (stdlib only).

  loadtest/smpp.py --seconds 10 --connections 4 --window 64 [--rounds 1]

Issue 10: submit_sm/s through the balancer >= 0.8 x submit_sm/s straight to
the SMSC, measured in the same invocation (the machine is shared and noisy:
only the ratio means something). One SMSC sink (loadtest/smpp/sink.py)
runs for the whole invocation; each round runs the same ESME load generator
(loadtest/smpp/esme.py: N transceiver connections, a window of W
outstanding submit_sm each, for T seconds) first straight to the sink, then
to the balancer's smppPort, which relays to the sink. Prints a markdown
table (submit_sm/s, ratio, errors, response latency, CPU % of the balancer,
the ESME and the SMSC), appends it to loadtest/results/<date>-<hostname>.md
and exits 0 when the ratio is >= --min-ratio with no error and no timeout.
See loadtest/README.md.
"""

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (helpers: ticks, stop, results file)

TOOLS = os.path.join(run.LT, "smpp")


def default_bin():
    d = os.environ.get("CARGO_TARGET_DIR") or os.path.join(run.ROOT, "target")
    return os.path.join(d, "release", "sip-balancer")


class Ports:
    def __init__(self, base):
        self.smpp = base + 30                         # balancer smppPort
        self.sink = base + 40                         # the SMSC sink

    def busy(self):
        tcp = [p for p in (self.smpp, self.sink) if not tcp_free(p)]
        return tcp


def wait_quiet(max_wait, threshold=10.0):
    """Wait (at most `max_wait` s) for a second in which the whole machine
    is below `threshold` % busy (our own processes are idle between
    phases): other sessions' builds come and go. Returns the % last seen."""
    t0 = time.monotonic()
    end, said = t0 + max_wait, False
    while True:
        a0, w0 = busy_ticks(), time.monotonic()
        time.sleep(1.0)
        pct = 100.0 * (busy_ticks() - a0) / run.CLK_TCK / (time.monotonic() - w0)
        if pct < threshold or time.monotonic() >= end:
            if said:
                run.log(f"   waited {time.monotonic() - t0:.0f} s; machine now {pct:.0f} % busy")
            return pct
        if not said:
            run.log(f"   machine {pct:.0f} % busy: waiting up to {max_wait:.0f} s for it to calm down")
            said = True


def tcp_free(port):
    """No listener on the port (TIME_WAIT left by a previous run does not
    count)."""
    return run.port_free(port, kind=socket.SOCK_STREAM)


def balancer_yaml(ports, shards, window_size, busy_poll=0, batch_wait=0):
    """SIP off, no nodes, statistics and JSON heartbeats
    off; SMPP regular mode towards the sink. maxConnectionSize defaults to
    the ESME window: with the balancer's default (10) the requests beyond 10
    outstanding are answered ESME_RTHROTTLED."""
    return (f"cores: {shards}\n"
            f"busyPollMicros: {busy_poll}\n"
            f"batchWaitMicros: {batch_wait}\n"
            "sip: { enabled: false }\n"
            "nodes: []\n"
            "statisticPort: 0\n"
            "heartbeatPort: 0\n"
            f"smpp: {{ smppPort: {ports.smpp}, remoteServers: [\"127.0.0.1:{ports.sink}\"], "
            f"maxConnectionSize: {window_size} }}\n")


def wait_tcp(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        if not tcp_free(port):
            return True
        time.sleep(0.05)
    return False


def start_sink(args, ports, rundir):
    cmd = ["taskset", "-c", args.client_cpus, sys.executable, os.path.join(TOOLS, "sink.py"),
           "--port", str(ports.sink), "--procs", str(args.sink_procs),
           "--lifetime", str(int(args.rounds * 2 * (args.seconds + args.drain + args.quiet_wait + 10) + 60))]
    out = open(os.path.join(rundir, "sink.out"), "w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc if wait_tcp(ports.sink, proc) else None


def start_balancer(args, ports, rundir):
    cfg = os.path.join(rundir, "balancer.yaml")
    with open(cfg, "w") as f:
        f.write(balancer_yaml(ports, args.shards, args.max_connection_size or args.window,
                              args.busy_poll_micros, args.batch_wait_micros))
    cpus = args.balancer_cpus or run.target_cpus(args.shards)[0]
    cmd = ["taskset", "-c", cpus, args.balancer_bin, "--config", cfg]
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    out = open(os.path.join(rundir, "balancer.out"), "w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=rundir,
                            start_new_session=True)
    if not wait_tcp(ports.smpp, proc):
        run.stop(proc, signal.SIGKILL)
        return None, cmd
    return proc, cmd


def busy_ticks():
    """Busy clock ticks of all CPUs (/proc/stat `cpu` line: everything but
    idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0
    return sum(v[:8]) - v[3] - v[4]


def phase(args, path, port, lb, sink, rundir, tag):
    """One ESME run against `port`; CPU of the balancer and the sink sampled
    at the common start and at the deadline (the measuring window)."""
    start_at = time.monotonic() + args.start_delay
    cmd = ["taskset", "-c", args.client_cpus, sys.executable, os.path.join(TOOLS, "esme.py"),
           "--port", str(port), "--connections", str(args.connections),
           "--window", str(args.window), "--seconds", str(args.seconds),
           "--max-messages", str(args.max_messages), "--procs", str(args.esme_procs),
           "--drain", str(args.drain), "--start-at", f"{start_at:.6f}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=open(os.path.join(rundir, f"esme-{tag}.err"), "w"),
                            start_new_session=True)
    sink_pids = run.proc_tree(sink.pid)
    time.sleep(max(0.0, start_at - 0.02 - time.monotonic()))
    esme_pids = run.proc_tree(proc.pid)   # its forked workers exist by now
    time.sleep(max(0.0, start_at - time.monotonic()))

    def sample():
        return (run.proc_ticks(lb.pid) or 0, run.tree_ticks(sink_pids), run.tree_ticks(esme_pids),
                busy_ticks(), time.monotonic())

    b0, s0, e0, a0, w0 = sample()
    time.sleep(max(0.0, start_at + args.seconds - time.monotonic()))
    b1, s1, e1, a1, w1 = sample()
    try:
        out, _ = proc.communicate(timeout=args.drain + 15)
    except subprocess.TimeoutExpired:
        run.stop(proc, signal.SIGKILL)
        return {"path": path, "error": "ESME over its time bound (killed)"}
    with open(os.path.join(rundir, f"esme-{tag}.json"), "wb") as f:
        f.write(out)
    try:
        r = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"path": path, "error": f"no ESME result (exit {proc.returncode})"}
    wall = max(1e-6, w1 - w0)
    r["path"] = path
    r["lb_cpu"] = 100.0 * (b1 - b0) / run.CLK_TCK / wall
    r["lb_us"] = (1e6 * (b1 - b0) / run.CLK_TCK / r["ok_in_window"]) if r["ok_in_window"] else None
    r["sink_cpu"] = 100.0 * (s1 - s0) / run.CLK_TCK / wall
    r["esme_cpu"] = 100.0 * (e1 - e0) / run.CLK_TCK / wall
    # everything else the machine ran meanwhile (other sessions' builds)
    r["other_cpu"] = max(0.0, 100.0 * (a1 - a0 - (b1 - b0) - (s1 - s0) - (e1 - e0)) / run.CLK_TCK / wall)
    r["errors"] = sum(r["statuses"].values()) + r["unknown_seq"] + r["bind_failed"] + r["closed_by_peer"]
    return r


def fmt(v, f="{:.1f}"):
    return "–" if v is None else f.format(v)


def row(args, rnd, r, direct_rate):
    if r.get("error"):
        return f"| {rnd} | {r['path']} | – | {r['error']} |" + " – |" * 11
    lat = r.get("latency_us") or {}
    ratio = r["rate"] / direct_rate if direct_rate else None
    errs = ", ".join(f"{k}×{v}" for k, v in r["statuses"].items()) or "0"
    extra = [f"unknown seq {r['unknown_seq']}" for _ in [0] if r["unknown_seq"]]
    extra += [f"bind failed {r['bind_failed']}" for _ in [0] if r["bind_failed"]]
    extra += [f"closed by peer {r['closed_by_peer']}" for _ in [0] if r["closed_by_peer"]]
    lb = r["path"] == "balancer"
    return (f"| {rnd} | {r['path']} | {args.connections} × {args.window} | {r['rate']:.0f} | "
            f"{fmt(ratio, '{:.2f}')} | {r['ok']} | {'; '.join([errs] + extra)} | {r['timeouts']} | "
            f"{lat.get('p50', '–')} / {lat.get('p99', '–')} | "
            f"{fmt(r['lb_cpu'] if lb else None)} | {fmt(r['lb_us'] if lb else None, '{:.2f}')} | "
            f"{r['esme_cpu']:.0f} | {r['sink_cpu']:.0f} | {r['other_cpu']:.0f} |")


HEADER = ("| round | path | conns × window | submit_sm/s | × direct | ok | non-zero status | "
          "timeouts | resp p50 / p99 µs | balancer CPU % | balancer CPU µs/submit | ESME CPU % | "
          "SMSC CPU % | others CPU % |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def run_all(args, rundir):
    ports = Ports(args.base_port)
    busy = ports.busy()
    if busy:
        return f"ports busy: {busy}", [], None
    sink = lb = None
    results = []
    try:
        sink = start_sink(args, ports, rundir)
        if sink is None:
            return "the SMSC sink did not start", [], None
        lb, cmd = start_balancer(args, ports, rundir)
        if lb is None:
            return f"the balancer did not bind {ports.smpp} (see {rundir}/balancer.out)", [], None
        run.log(f"balancer: {shlex.join(cmd)}")
        time.sleep(0.5)
        for rnd in range(1, args.rounds + 1):
            for path, port in (("direct", ports.sink), ("balancer", ports.smpp)):
                run.log(f"== round {rnd}: {path}, {args.connections} conns × window {args.window}, "
                        f"{args.seconds} s")
                if args.quiet_wait > 0:
                    wait_quiet(args.quiet_wait)
                if sink.poll() is not None:
                    return "the SMSC sink exited (its --lifetime?)", results, None
                r = phase(args, path, port, lb, sink, rundir, f"{rnd}-{path}")
                r["round"] = rnd
                if not r.get("error"):
                    run.log(f"   {r['rate']:.0f} submit_sm/s, ok {r['ok']}, errors {r['errors']}, "
                            f"timeouts {r['timeouts']}, balancer CPU {r['lb_cpu']:.0f} %")
                results.append(r)
                if lb.poll() is not None:
                    return "the balancer exited during the run", results, None
    finally:
        run.stop(lb, signal.SIGTERM)
        run.stop(sink, signal.SIGTERM)
    try:
        sink_stats = json.loads(open(os.path.join(rundir, "sink.out")).read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        sink_stats = None
    return None, results, sink_stats


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def median(v):
    s = sorted(v)
    return None if not s else (s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2)


def report(args, results, sink_stats, rundir, load_before):
    ok = [r for r in results if not r.get("error")]
    lines, ratios = [], []
    for rnd in range(1, args.rounds + 1):
        mine = [r for r in results if r["round"] == rnd]
        rate = {r["path"]: r["rate"] for r in mine if not r.get("error")}
        lines += [row(args, rnd, r, rate.get("direct")) for r in mine]
        if rate.get("direct") and "balancer" in rate:
            ratios.append(rate["balancer"] / rate["direct"])
    table = HEADER + "\n" + "\n".join(lines)
    ratio = median(ratios)
    clean = (len(ok) == len(results) == 2 * args.rounds
             and all(r["errors"] == 0 and r["timeouts"] == 0 for r in ok))
    good = clean and ratio is not None and ratio >= args.min_ratio
    verdict = (f"ratio balancer / direct = {fmt(ratio, '{:.2f}')} (median of the per-round ratios "
               f"{', '.join(f'{x:.2f}' for x in ratios) or '–'}); errors/timeouts "
               f"{'none' if clean else 'SEEN'} -> {'PASS' if good else 'FAIL'} (needs ≥ {args.min_ratio})")
    print("\n" + table + "\n\n" + verdict)
    seen = "–" if sink_stats is None else (
        f"{sink_stats.get('submits')} submit_sm, {sink_stats.get('binds')} binds, "
        f"{sink_stats.get('enquire_links')} enquire_link over the invocation "
        f"(ESME ok in all phases: {sum(r['ok'] for r in ok)})")
    notes = [
        f"host {socket.gethostname()}, {os.cpu_count()} CPUs, loadavg before {load_before}, at end {loadavg()}",
        f"pinning: ESME ({args.esme_procs} proc) + SMSC sink ({args.sink_procs} proc) on CPUs "
        f"{args.client_cpus}; balancer ({args.shards} shard) on CPUs "
        f"{args.balancer_cpus or run.target_cpus(args.shards)[0]}",
        f"{args.seconds} s per phase after the binds, cap {args.max_messages} submit_sm per phase; "
        f"submit_sm/s = status-0 responses received before the deadline ÷ the window; "
        f"timeouts = still unanswered {args.drain} s after it",
        "CPU % from /proc/<pid>/stat utime+stime over the window (balancer: its process, all "
        "threads; sink, ESME: their process trees); others = all CPUs' busy time minus these "
        "(other sessions' builds, steal)",
        f"balancer config: regular mode (one SMSC connection per ESME), maxConnectionSize "
        f"{args.max_connection_size or args.window}",
        f"SMSC sink saw {seen}",
        verdict,
        f"raw files: {rundir}"]
    path = run.write_results(f"SMPP submit_sm through the balancer vs direct, {args.connections} × "
                             f"{args.window}, {args.seconds} s", args.command_line, table, notes)
    run.log(f"results appended to {path}")
    return 0 if good else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per phase")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--window", type=int, default=64, help="outstanding submit_sm per connection")
    ap.add_argument("--rounds", type=int, default=3,
                    help="direct then balancer, repeated; the verdict is the median per-round ratio")
    ap.add_argument("--max-messages", type=int, default=20_000_000, help="cap per phase")
    ap.add_argument("--drain", type=float, default=3.0)
    ap.add_argument("--start-delay", type=float, default=1.0, help="seconds for the binds")
    ap.add_argument("--esme-procs", type=int, default=1)
    ap.add_argument("--sink-procs", type=int, default=1)
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="before each phase wait up to this many seconds for a second with "
                         "the machine < 10 %% busy (0: don't)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--client-cpus", default="0", help="CPUs of the ESME and the sink")
    ap.add_argument("--balancer-cpus", default=None,
                    help="default: run.py's pinning (1 shard on CPU 1, 2 on CPUs 0,1)")
    ap.add_argument("--max-connection-size", type=int, default=None,
                    help="the balancer's smpp.maxConnectionSize (default: --window)")
    ap.add_argument("--busy-poll-micros", type=int, default=0,
                    help="the balancer's busyPollMicros (busy polling after each turn; 0 = off)")
    ap.add_argument("--batch-wait-micros", type=int, default=0,
                    help="the balancer's batchWaitMicros (completion batching of each wait; 0 = off)")
    ap.add_argument("--min-ratio", type=float, default=0.8)
    ap.add_argument("--base-port", type=int, default=26100,
                    help="smppPort base+30, sink base+40 (TCP)")
    ap.add_argument("--balancer-bin", default=default_bin())
    ap.add_argument("--workdir", default="/tmp/sip-lb-loadtest")
    args = ap.parse_args()
    args.command_line = "loadtest/smpp.py " + shlex.join(sys.argv[1:])
    if not os.path.exists(args.balancer_bin):
        run.log(f"{args.balancer_bin} missing: cargo build --release")
        return 2
    load_before = loadavg()
    rundir = run.run_dir(args, "smpp")
    err, results, sink_stats = run_all(args, rundir)
    if err:
        run.log(err)
        if not results:
            return 2
    return report(args, results, sink_stats, rundir, load_before)


if __name__ == "__main__":
    sys.exit(main())
