#!/usr/bin/env python3
"""sip-balancer load harness (Python 3 stdlib only).

One command per scenario:

  loadtest/run.py fixed --rate 1000 --calls 20000 --targets balancer,kamailio,relay,relay-glommio --shards 1,2
  loadtest/run.py ramp  --start 500 --step 250 --max-rate 8000 --step-seconds 10 --targets kamailio,relay

For every (target, shards) pair it starts two SIPp UAS nodes, the target
(balancer | kamailio | relay | relay-glommio; relay = udp-relay on the
balancer's io_uring driver, relay-glommio = udp-relay --io glommio, the
naive-glommio baseline), a loopback capture (tshark), then the SIPp UAC
at a fixed rate for a bounded number of calls; it prints a progress line every
second and writes a markdown summary to loadtest/results/<date>-<hostname>.md
together with the exact command line. See loadtest/README.md.
"""

import argparse
import collections
import datetime
import os
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN = os.path.join(ROOT, "sipp-scenarios")
LT = os.path.join(ROOT, "loadtest")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = ("balancer", "balancer-nobatch", "balancer-batchN", "balancer-busyN", "kamailio", "relay",
           "relay-glommio")

# balancer-nobatch: the same binary with `batchWaitMicros: 0` (shards wake
# at every completion), balancer-batchN with `batchWaitMicros: N`: what
# completion batching buys, in the same run; balancer-busyN with
# `busyPollMicros: N` (busy polling after each turn).
def balancer_variant(name):
    """The extra YAML of a balancer target name; None for other targets."""
    if name == "balancer":
        return ""
    if name == "balancer-nobatch":
        return "batchWaitMicros: 0\n"
    for prefix, key in (("balancer-batch", "batchWaitMicros"), ("balancer-busy", "busyPollMicros")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return f"{key}: {int(name[len(prefix):])}\n"
    return None


def is_balancer(name):
    return balancer_variant(name) is not None
# udp-relay targets and the --io each runs with (ratios are against "relay")
RELAYS = {"relay": "uring", "relay-glommio": "glommio"}


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def proc_ticks(pid):
    """utime+stime (clock ticks) of one process, all its threads included."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime=14, stime=15 -> index 11, 12
    return int(fields[11]) + int(fields[12])


def proc_tree(root):
    """root and all its descendants (kamailio forks its workers)."""
    children = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                data = f.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(")") + 2:].split()[1])
        children[ppid].append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_ticks(pids):
    return sum(t for t in (proc_ticks(p) for p in pids) if t is not None)


def port_free(port, host="127.0.0.1", kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # TIME_WAIT left by the last run does not make a port busy;
            # a listener does.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def busy_ports(ports):
    """Ports of `ports` bound by something (UDP or a TCP listener)."""
    return [p for p in ports.all()
            if not port_free(p) or not port_free(p, kind=socket.SOCK_STREAM)]


def sock_kind(transport):
    return socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM


def wait_bound(port, proc, transport="udp", timeout=10.0):
    """A target is up when its port can no longer be bound."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        if not port_free(port, kind=sock_kind(transport)):
            return True
        time.sleep(0.05)
    return False


def in_proxy(path):
    """The balancer's own per-shard histogram lines (time inside Proxy::handle)."""
    try:
        with open(path, errors="replace") as f:
            return [l.split("] ", 1)[-1].strip() for l in f if "time in proxy" in l or "kernel receive to proxy" in l]
    except OSError:
        return []


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def stop(proc, sig=signal.SIGTERM, grace=3.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


def read_sipp_csv_last(path):
    """Last data row of a SIPp ';' CSV (-trace_stat / -trace_counts) as a dict."""
    try:
        with open(path) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head = lines[0].split(";")
    row = lines[-1].split(";")
    return dict(zip(head, row))


def find_file(d, prefix, suffix):
    for n in sorted(os.listdir(d)):
        if n.startswith(prefix) and n.endswith(suffix):
            return os.path.join(d, n)
    return None


def sipp_elapsed_s(v):
    # "00:00:10:012000" = hh:mm:ss:usec
    try:
        h, m, s, us = v.split(":")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(us) / 1e6
    except (ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------
# ports and configs
# --------------------------------------------------------------------------

class Ports:
    def __init__(self, base):
        self.ext = base          # target external port (UAC sends here)
        self.int = base + 5      # target internal port (nodes reply here)
        self.nodes = [base + 10, base + 11]
        self.uac = base + 20

    def all(self):
        return [self.ext, self.int, self.uac] + self.nodes


def balancer_yaml(ports, shards, transport, extra=""):
    """The one place that knows the balancer's config format (`extra`: more
    top-level YAML, e.g. the soak's `algorithm:` line)."""
    key = {"udp": "udpPort", "tcp": "tcpPort"}[transport]
    nodes = "\n".join(
        f"  - {{ ip: 127.0.0.1, {key}: {p}, hostname: node{i + 1} }}"
        for i, p in enumerate(ports.nodes))
    # The balancer always serves UDP too: over TCP its UDP ports sit beside
    # the TCP ones (+1), unused by the run.
    udp = "" if transport == "udp" else ", udpPort: {}"
    return (
        f"cores: {shards}\n"
        "sip:\n"
        f"  external: {{ host: 127.0.0.1, {key}: {ports.ext}{udp.format(ports.ext + 1)} }}\n"
        f"  internal: {{ host: 127.0.0.1, {key}: {ports.int}{udp.format(ports.int + 1)} }}\n"
        "  isSendTrying: false\n"
        "nodes:\n"
        f"{nodes}\n"
        "probe: { interval: 500, timeout: 1000, failuresToDown: 3, successesToUp: 1 }\n"
        + extra)


def target_cpus(shards):
    """Pinning: SIPp (UAC + 2 UAS) and the capture on CPU 0; a 1-shard target
    alone on CPU 1; a 2-shard target on CPUs 0,1 (shares CPU 0 with SIPp)."""
    ncpu = os.cpu_count() or 1
    if ncpu < 2:
        return "0", "0"
    if shards <= 1:
        return "1", "0"
    return ",".join(str(i) for i in range(min(shards, ncpu))), "0"


def start_target(name, shards, transport, ports, rundir, args):
    cpus, _ = target_cpus(shards)
    env = dict(os.environ)
    # info: startup lines and, at stop, each shard's counters and its
    # histogram of time spent inside the proxy (read back by in_proxy()).
    env.setdefault("RUST_LOG", "info")
    out = open(os.path.join(rundir, f"{name}.out"), "w")
    if name in RELAYS:
        if transport != "udp":
            return None, f"{name} is UDP only"
        cmd = [args.relay_bin, "--io", RELAYS[name], "--external", f"127.0.0.1:{ports.ext}",
               "--internal", f"127.0.0.1:{ports.int}",
               "--shards", str(shards), "--stats-file", os.path.join(rundir, f"{name}.stats")]
        if shards > 1:
            cmd += ["--cpus", cpus]
        for p in ports.nodes:
            cmd += ["--node", f"127.0.0.1:{p}"]
    elif name == "kamailio":
        ds = os.path.join(rundir, "dispatcher.list")
        param = ";transport=tcp" if transport == "tcp" else ""
        with open(ds, "w") as f:
            f.write("".join(f"1 sip:127.0.0.1:{p}{param} 0 0\n" for p in ports.nodes))
        cmd = [args.kamailio_bin, "-f", os.path.join(LT, "kamailio", "kamailio.cfg"),
               "-DD", "-E", "-n", str(shards), "-m", "64", "-M", "8",
               "-Y", rundir, "-w", rundir,
               "-A", f"LB_PORT={ports.ext}", "-A", f'DS_LIST="{ds}"']
        if args.kamailio_rr:
            cmd += ["-A", "WITH_RR"]
        if transport == "tcp":
            cmd += ["-A", "WITH_TCP"]
    elif is_balancer(name):
        cfg = os.path.join(rundir, "balancer.yaml")
        extra = balancer_variant(name) + getattr(args, "balancer_extra", "")
        with open(cfg, "w") as f:
            f.write(balancer_yaml(ports, shards, transport, extra))
        cmd = [args.balancer_bin, "--config", cfg]
    else:
        raise ValueError(name)
    if not os.path.exists(cmd[0]) and "/" in cmd[0]:
        return None, f"{cmd[0]} not built"
    full = ["taskset", "-c", cpus] + cmd
    with open(os.path.join(rundir, f"{name}.cmd"), "w") as f:
        f.write(shlex.join(full) + "\n")
    proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env,
                            cwd=rundir, start_new_session=True)
    if not wait_bound(ports.ext, proc, transport):
        stop(proc, signal.SIGKILL)
        return None, f"{name} did not bind {ports.ext} (see {out.name})"
    if is_balancer(name):
        time.sleep(args.balancer_warmup)  # static nodes: let the first probes mark them up
    return proc, None


def uac_command(ports, rate, calls, args, max_s):
    """The SIPp UAC (sipp-scenarios/uac.xml) on CPU 0: `calls` calls at `rate`
    to the target's external port, stats every second into stat.csv, giving
    up (failing) after `max_s` seconds."""
    return ["taskset", "-c", "0", "sipp", "-sf", os.path.join(SCEN, "uac.xml"),
            "-s", "svc", f"127.0.0.1:{ports.ext}", "-i", "127.0.0.1",
            "-p", str(ports.uac), "-t", sipp_transport(args.transport),
            "-r", str(rate), "-rp", "1000", "-m", str(calls), "-d", str(args.pause_ms),
            "-l", str(args.max_concurrent), "-nostdin", "-recv_timeout", "5000",
            "-buff_size", str(SIPP_BUFFER),
            "-timeout", f"{int(max_s)}s", "-timeout_error",
            "-trace_stat", "-stf", "stat.csv", "-fd", "1",
            "-trace_err", "-max_socket", "4096"]


def sipp_transport(t):
    return {"udp": "u1", "tcp": "t1"}[t]


# SIPp's socket buffers (-buff_size). Its default (the kernel's 208 KiB)
# overflows when the three SIPp processes share one saturated core and a
# target answers a burst at once: the kernel then drops datagrams at the
# *generator* (Udp RcvbufErrors) and the run counts failed calls that no
# target caused. Capped by net.core.rmem_max/wmem_max; `sipp_buffer_note`
# says so when they are lower.
SIPP_BUFFER = 4 * 1024 * 1024


def sipp_buffer_note():
    """A warning line when the kernel caps SIPp's buffers below SIPP_BUFFER."""
    low = []
    for key in ("rmem_max", "wmem_max"):
        try:
            with open(f"/proc/sys/net/core/{key}") as f:
                if int(f.read().strip()) < SIPP_BUFFER:
                    low.append(key)
        except (OSError, ValueError):
            pass
    if low:
        return (f"note: net.core.{'/'.join(low)} < {SIPP_BUFFER} caps SIPp's socket buffers; "
                f"raise with: sysctl -w net.core.rmem_max={SIPP_BUFFER} net.core.wmem_max={SIPP_BUFFER}")
    return None


def start_uas(ports, rundir, transport, cpus="0"):
    procs = []
    for i, p in enumerate(ports.nodes):
        d = os.path.join(rundir, f"uas{i + 1}")
        os.makedirs(d, exist_ok=True)
        cmd = ["taskset", "-c", cpus, "sipp", "-sf", os.path.join(SCEN, "uas.xml"),
               "-i", "127.0.0.1", "-p", str(p), "-t", sipp_transport(transport), "-aa",
               "-nostdin", "-trace_counts", "-trace_err", "-fd", "1",
               "-buff_size", str(SIPP_BUFFER),
               "-timeout", "3600s", "-max_socket", "4096"]
        procs.append(subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(d, "stderr"), "w"),
                                      start_new_session=True))
    for p, proc in zip(ports.nodes, procs):
        if not wait_bound(p, proc, transport):
            for q in procs:
                stop(q, signal.SIGKILL)
            return None
    return procs


def start_capture(ports, rundir):
    pcap = os.path.join(rundir, "lo.pcap")
    flt = " or ".join(f"udp port {p}" for p in ports.all())
    cmd = ["taskset", "-c", "0", "tshark", "-q", "-i", "lo", "-B", "64", "-F", "pcap",
           "-f", flt, "-w", pcap]
    err = open(os.path.join(rundir, "tshark.err"), "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    # tshark prints "Capturing on 'Loopback: lo'" when ready
    end = time.time() + 10
    while time.time() < end:
        with open(err.name) as f:
            if "Capturing on" in f.read():
                break
        if proc.poll() is not None:
            return None, pcap
        time.sleep(0.05)
    time.sleep(0.2)
    return proc, pcap


# --------------------------------------------------------------------------
# capture analysis: per-hop added latency
# --------------------------------------------------------------------------

def pcap_datagrams(path):
    """(ts_us, src_port, dst_port, payload) for every UDP/IPv4 datagram."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack(e + "I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20, 0: 4, 101: 0}.get(linktype)
    if l2 is None:
        raise RuntimeError(f"unsupported pcap linktype {linktype}")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
        ts = sec * 1_000_000 + (frac // 1000 if nano else frac)
        yield ts, sport, dport, ip[ihl + 8:]


def sip_key(payload):
    """(Call-ID, CSeq, method-or-status) or None."""
    try:
        head = payload.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    except Exception:
        return None
    lines = head.split("\r\n")
    first = lines[0]
    if first.startswith("SIP/2.0 "):
        what = first[8:11]
    else:
        what = first.split(" ", 1)[0]
    cid = cseq = None
    for l in lines[1:]:
        n, _, v = l.partition(":")
        n = n.strip().lower()
        if n in ("call-id", "i"):
            cid = v.strip()
        elif n == "cseq":
            cseq = " ".join(v.split())
    if not cid or not cseq:
        return None
    return cid, cseq, what


def hop_latency(pcap, ports, target):
    """Match each datagram into the target with the datagram it sends out for
    the same Call-ID+CSeq+method/status in the same direction (FIFO per key).
    down = UAC -> node, up = node -> UAC. Returns dict with µs percentiles."""
    tports = {ports.ext, ports.int}
    nodes = set(ports.nodes)
    pending = collections.defaultdict(collections.deque)
    lat = {"down": [], "up": []}
    n_in = n_out = unmatched = 0
    for ts, sp, dp, payload in pcap_datagrams(pcap):
        if dp in tports and (sp == ports.uac or sp in nodes):
            k = sip_key(payload)
            if k is None:
                continue
            d = "down" if sp == ports.uac else "up"
            pending[k + (d,)].append(ts)
            n_in += 1
        elif sp in tports and (dp == ports.uac or dp in nodes):
            k = sip_key(payload)
            if k is None:
                continue
            d = "down" if dp in nodes else "up"
            q = pending.get(k + (d,))
            n_out += 1
            if q:
                lat[d].append(ts - q.popleft())
            else:
                unmatched += 1  # e.g. a probe or a proxy-generated reply
    out = {"in": n_in, "out": n_out, "unmatched_out": unmatched}
    allv = sorted(lat["down"] + lat["up"])
    for name, vals in (("all", allv), ("down", sorted(lat["down"])), ("up", sorted(lat["up"]))):
        out[name] = (percentile(vals, 50), percentile(vals, 99), len(vals))
    return out


# --------------------------------------------------------------------------
# one measured run
# --------------------------------------------------------------------------

def run_once(target, shards, rate, calls, args, rundir, label=""):
    os.makedirs(rundir, exist_ok=True)
    ports = Ports(args.base_port)
    res = {"target": target, "shards": shards, "rate": rate, "calls": calls,
           "transport": args.transport, "error": None}
    # The previous target (kamailio's forked children in particular) may
    # take a moment to release its sockets after it was stopped.
    deadline = time.time() + 10.0
    busy = busy_ports(ports)
    while busy and time.time() < deadline:
        time.sleep(0.2)
        busy = busy_ports(ports)
    if busy:
        res["error"] = f"ports busy: {busy}"
        return res
    uas = tgt = cap = uac = None
    try:
        uas = start_uas(ports, rundir, args.transport, args.node_cpus)
        if uas is None:
            res["error"] = "UAS nodes did not start"
            return res
        tgt, err = start_target(target, shards, args.transport, ports, rundir, args)
        if tgt is None:
            res["error"] = err
            return res
        pcap = None
        if args.capture:
            cap, pcap = start_capture(ports, rundir)
        uacdir = os.path.join(rundir, "uac")
        os.makedirs(uacdir, exist_ok=True)
        max_s = calls / rate + args.tail_seconds
        uac_cmd = uac_command(ports, rate, calls, args, max_s) + [
            "-trace_rtt", "-rtt_freq", "1", "-trace_counts", "-trace_screen"]
        res["uac_cmd"] = shlex.join(uac_cmd)
        pids = proc_tree(tgt.pid)
        t0 = tree_ticks(pids)
        w0 = time.time()
        uac = subprocess.Popen(uac_cmd, cwd=uacdir, stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(uacdir, "stderr"), "w"),
                               start_new_session=True)
        deadline = w0 + max_s + 10
        last_t, last_w = t0, w0
        while uac.poll() is None:
            if time.time() > deadline:
                log(f"  [{label}] UAC over its time bound, stopping it")
                stop(uac, signal.SIGKILL)
                break
            time.sleep(1.0)
            pids = proc_tree(tgt.pid)
            t, w = tree_ticks(pids), time.time()
            st = read_sipp_csv_last(os.path.join(uacdir, "stat.csv"))
            cpu = 100.0 * (t - last_t) / CLK_TCK / max(1e-6, w - last_w)
            last_t, last_w = t, w
            sys.stderr.write(
                ("\r" if sys.stderr.isatty() else "") + f"  [{label}] {w - w0:5.1f}s  sent {st.get('OutgoingCall(C)', '?'):>7}/{calls}"
                f"  ok {st.get('SuccessfulCall(C)', '?'):>7}  failed {st.get('FailedCall(C)', '?'):>4}"
                f"  open {st.get('CurrentCall', '?'):>5}  cps {st.get('CallRate(P)', '?'):>9}"
                f"  {target} cpu {cpu:5.1f}%   " + ("" if sys.stderr.isatty() else "\n"))
            sys.stderr.flush()
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        time.sleep(0.3)
        t1 = tree_ticks(proc_tree(tgt.pid))
        w1 = time.time()
        res["cpu_s"] = (t1 - t0) / CLK_TCK
        res["wall_s"] = w1 - w0
        time.sleep(1.3)  # UAS counts are dumped every second (-fd 1)
        # ---- SIPp results
        st = read_sipp_csv_last(os.path.join(uacdir, "stat.csv"))
        ok = int(st.get("SuccessfulCall(C)", 0) or 0)
        failed = int(st.get("FailedCall(C)", 0) or 0)
        created = int(st.get("OutgoingCall(C)", 0) or 0)
        el = sipp_elapsed_s(st.get("ElapsedTime(C)"))
        res.update(ok=ok, failed=failed, created=created,
                   not_created=calls - created, retrans=int(st.get("Retransmissions(C)", 0) or 0),
                   achieved=(ok / el) if el else None)
        rtt = find_file(uacdir, "uac_", "_rtt.csv")
        r1, r2, t1s = [], [], []
        if rtt:
            with open(rtt) as f:
                next(f, None)
                for l in f:
                    parts = l.strip().split(";")
                    if len(parts) == 3:
                        if parts[2] == "1":
                            r1.append(float(parts[1]))
                            t1s.append(float(parts[0]))
                        else:
                            r2.append(float(parts[1]))
        # achieved rate: completed INVITE transactions over the span of their
        # completion times (SIPp's own ElapsedTime has 1 s resolution)
        if len(t1s) > 1 and max(t1s) > min(t1s):
            res["achieved"] = min(ok, len(t1s) - 1) / ((max(t1s) - min(t1s)) / 1000.0)
        r1.sort()
        r2.sort()
        res["rtt_invite"] = (percentile(r1, 50), percentile(r1, 99))
        res["rtt_bye"] = (percentile(r2, 50), percentile(r2, 99))
        # ---- messages forwarded: requests the nodes received + responses the UAC received
        fwd = 0
        cnt = read_sipp_csv_last(find_file(uacdir, "uac_", "_counts.csv") or "/nonexistent")
        for k, v in cnt.items():
            if k.endswith("_Recv") or (k.endswith("_Retrans") and k.split("_")[1].isdigit()):
                fwd += int(v or 0)
        for i in range(len(ports.nodes)):
            d = os.path.join(rundir, f"uas{i + 1}")
            c = read_sipp_csv_last(find_file(d, "uas_", "_counts.csv") or "/nonexistent")
            for k, v in c.items():
                parts = k.split("_")
                if len(parts) >= 3 and not parts[1].isdigit() and parts[-1] in ("Recv", "Retrans"):
                    fwd += int(v or 0)  # requests (INVITE/ACK/BYE) received, incl. retransmissions
        res["fwd_sipp"] = fwd
        res["fwd"] = fwd
        res["cpu_us_per_msg"] = (res["cpu_s"] * 1e6 / fwd) if fwd else None
    finally:
        for p in [uac] + (uas or []):
            stop(p, signal.SIGKILL, grace=2)
        stop(tgt, signal.SIGTERM)
        if cap is not None:
            stop(cap, signal.SIGINT, grace=10)
    if target in RELAYS:
        try:
            with open(os.path.join(rundir, f"{target}.stats")) as f:
                kv = dict(x.split("=") for x in f.read().split())
            res["fwd_target"] = int(kv["forwarded"])
        except (OSError, KeyError, ValueError):
            pass
    if args.capture and pcap and os.path.exists(pcap):
        try:
            res["hop"] = hop_latency(pcap, ports, target)
        except Exception as e:  # analysis must not lose the run
            res["hop_error"] = str(e)
        if not args.keep_pcap:
            os.unlink(pcap)
    return res


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------

def fmt(v, f="{:.1f}", none="–"):
    return none if v is None else f.format(v)


def pair(t, f="{:.0f}"):
    if not t or t[0] is None:
        return "–"
    return f"{f.format(t[0])} / {f.format(t[1])}"


def table(results, ramp=False):
    by = {(r["target"], r["shards"]): r for r in results}
    # a "× relay-glommio" column only when that target was run
    vs = ["kamailio", "relay"] + (["relay-glommio"] if any(
        r["target"] == "relay-glommio" for r in results) else [])
    hdr = ["target", "shards", "transport"]
    if ramp:
        hdr += ["max cps with 0 failed"] + [f"× {o}" for o in vs] + ["CPU µs/msg at that rate"]
    else:
        hdr += ["rate asked", "calls ok", "failed", "calls/s achieved", "msgs fwd",
                "CPU µs/msg"] + [f"× {o}" for o in vs] + ["SIPp RTT INVITE→200 p50/p99 ms",
                "SIPp RTT BYE→200 p50/p99 ms", "hop p50/p99 µs (all)", "down p50/p99 µs",
                "up p50/p99 µs"]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    key = "max_ok_rate" if ramp else "cpu_us_per_msg"
    for r in results:
        if r.get("error"):
            lines.append(f"| {r['target']} | {r['shards']} | {r['transport']} | "
                         f"skipped: {r['error']} |" + " |" * (len(hdr) - 4))
            continue
        v = r.get(key)

        def ratio(other):
            o = by.get((other, r["shards"]), {}).get(key)
            return f"{v / o:.2f}" if v and o else "–"
        row = [r["target"], str(r["shards"]), r["transport"]]
        if ramp:
            row += [fmt(v, "{:.0f}") + (" (hit --max-rate/--max-steps)" if r.get("capped") else "")]
            row += [ratio(o) for o in vs] + [fmt(r.get("cpu_at_max"), "{:.1f}")]
        else:
            hop = r.get("hop") or {}
            row += [str(r["rate"]), str(r.get("ok", "–")), str(r.get("failed", "–")),
                    fmt(r.get("achieved")), str(r.get("fwd", "–")), fmt(v)]
            row += [ratio(o) for o in vs]
            row += [pair(r.get("rtt_invite")), pair(r.get("rtt_bye")),
                    pair(hop.get("all")), pair(hop.get("down")), pair(hop.get("up"))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_results(title, command, body, notes):
    d = os.path.join(LT, "results")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{datetime.date.today().isoformat()}-{socket.gethostname()}.md")
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write(f"# Load test results — {socket.gethostname()}\n\n"
                    "Method and caveats: loadtest/README.md.\n")
        f.write(f"\n## {title} — {datetime.datetime.now().isoformat(timespec='seconds')}\n\n")
        f.write("Reproduce (from the repository root):\n\n```sh\n" + command + "\n```\n\n")
        f.write(body + "\n\n")
        for n in notes:
            f.write(f"- {n}\n")
    return path


def env_notes(args):
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"] * 3
    return [f"host {socket.gethostname()}, {os.cpu_count()} CPUs, loadavg at end {' '.join(load)}",
            "pinning: SIPp UAC + 2 UAS + tshark on CPU 0; 1-shard/1-worker target on CPU 1; "
            "2-shard/2-worker target on CPUs 0,1",
            f"UAC pause {args.pause_ms} ms; messages per call through the target: "
            "INVITE,180,200,ACK,BYE,200 (6, no 100: isSendTrying false / stateless)",
            "CPU µs/msg = Δ(utime+stime) of the target process tree over the UAC run ÷ msgs fwd "
            "(msgs fwd = requests received by the UAS nodes + responses received by the UAC, "
            "retransmissions included)",
            "SIPp RTTs have 1 ms resolution (SIPp clock); hop latency is from the lo capture (µs)"]


def check_bins(args, targets):
    if any(t in RELAYS for t in targets) and not os.path.exists(args.relay_bin):
        log(f"building udp-relay ({args.relay_bin} missing)")
        subprocess.run(["cargo", "build", "--release", "--bin", "udp-relay"], cwd=ROOT, check=True)


def run_dir(args, tag):
    d = os.path.join(args.workdir, datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + tag)
    os.makedirs(d, exist_ok=True)
    return d


def cmd_fixed(args):
    targets = [t for t in args.targets.split(",") if t]
    shards_l = [int(s) for s in args.shards.split(",")]
    check_bins(args, targets)
    base = run_dir(args, "fixed")
    results = []
    for shards in shards_l:
        for t in targets:
            label = f"{t} x{shards}"
            log(f"== {label}: {args.rate} calls/s, {args.calls} calls, {args.transport}")
            r = run_once(t, shards, args.rate, args.calls, args, os.path.join(base, f"{t}-{shards}"), label)
            if r.get("error"):
                log(f"   skipped: {r['error']}")
            else:
                log(f"   ok {r['ok']} failed {r['failed']} fwd {r['fwd']} "
                    f"(target says {r.get('fwd_target', 'n/a')}) cpu {r['cpu_s']:.2f}s "
                    f"-> {fmt(r['cpu_us_per_msg'])} µs/msg; hop {pair((r.get('hop') or {}).get('all'))} µs")
                for line in in_proxy(os.path.join(base, f"{t}-{shards}", f"{t}.out")):
                    log(f"   {line}")
            results.append(r)
    body = table(results)
    print("\n" + body)
    path = write_results(f"fixed {args.rate} calls/s × {args.calls} calls ({args.transport})",
                         args.command_line, body,
                         env_notes(args) + [f"raw run directories: {base}"])
    log(f"results appended to {path}")
    return 0 if all(not r.get("error") and r.get("failed") == 0 for r in results) else 1


def cmd_ramp(args):
    targets = [t for t in args.targets.split(",") if t]
    shards_l = [int(s) for s in args.shards.split(",")]
    check_bins(args, targets)
    base = run_dir(args, "ramp")
    results = []
    for shards in shards_l:
        for t in targets:
            rate, best, cpu_at, steps, err, capped = args.start, None, None, 0, None, True
            while rate <= args.max_rate and steps < args.max_steps:
                steps += 1
                calls = int(rate * args.step_seconds)
                label = f"{t} x{shards} @{rate}"
                r = run_once(t, shards, rate, calls, args,
                             os.path.join(base, f"{t}-{shards}-{rate}"), label)
                if r.get("error"):
                    err = r["error"]
                    log(f"   skipped: {err}")
                    break
                good = (r["failed"] == 0 and r["ok"] == calls and r.get("achieved")
                        and r["achieved"] >= args.min_achieved * rate)
                log(f"   {label}: ok {r['ok']} failed {r['failed']} achieved {fmt(r.get('achieved'))} "
                    f"cpu {fmt(r.get('cpu_us_per_msg'))} µs/msg -> {'pass' if good else 'FAIL'}")
                if not good:
                    capped = False
                    break
                best, cpu_at = rate, r.get("cpu_us_per_msg")
                rate += args.step
            results.append({"target": t, "shards": shards, "transport": args.transport,
                            "max_ok_rate": best, "cpu_at_max": cpu_at, "error": err,
                            "capped": capped and best is not None})
    body = table(results, ramp=True)
    print("\n" + body)
    path = write_results(f"ramp from {args.start} by {args.step} calls/s, {args.step_seconds} s per step "
                         f"({args.transport})", args.command_line, body,
                         env_notes(args) + [f"a step passes with 0 failed calls, all calls completed and "
                                            f"achieved ≥ {args.min_achieved:.0%} of the asked rate",
                                            f"raw run directories: {base}"])
    log(f"results appended to {path}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="scenario", required=True)

    def common(p, targets):
        p.add_argument("--targets", default=targets,
                       help="comma list of " + ",".join(TARGETS) + f" (default {targets})")
        p.add_argument("--shards", default="1,2", help="shard / worker counts, comma list (default 1,2)")
        p.add_argument("--transport", default="udp", choices=["udp", "tcp"])
        p.add_argument("--base-port", type=int, default=15060,
                       help="target ext=base, int=base+5, nodes base+10/+11, UAC base+20")
        p.add_argument("--pause-ms", type=int, default=0, help="UAC pause between ACK and BYE")
        p.add_argument("--max-concurrent", type=int, default=5000, help="SIPp -l bound on open calls")
        p.add_argument("--tail-seconds", type=float, default=15.0,
                       help="UAC time bound = calls/rate + this")
        p.add_argument("--node-cpus", default="0",
                       help="CPUs of the two SIPp UAS nodes (default 0, with the UAC); "
                            "1 leaves CPU 0 to the UAC so a ramp can go past its limit, "
                            "at the price of sharing the target's CPU")
        p.add_argument("--no-capture", dest="capture", action="store_false",
                       help="skip the tshark loopback capture (no hop latency)")
        p.add_argument("--keep-pcap", action="store_true")
        p.add_argument("--kamailio-rr", action="store_true",
                       help="kamailio record-routes (one RR entry; default off)")
        p.add_argument("--balancer-bin", default=os.path.join(ROOT, "target/release/sip-balancer"))
        p.add_argument("--relay-bin", default=os.path.join(ROOT, "target/release/udp-relay"))
        p.add_argument("--kamailio-bin", default="/usr/sbin/kamailio")
        p.add_argument("--balancer-warmup", type=float, default=1.5,
                       help="seconds after bind before load (probes mark static nodes up)")
        p.add_argument("--workdir", default="/tmp/sip-lb-loadtest", help="raw files of each run")

    f = sub.add_parser("fixed", help="fixed rate, bounded call count")
    common(f, "balancer,kamailio,relay,relay-glommio")
    f.add_argument("--rate", type=int, default=1000)
    f.add_argument("--calls", type=int, default=20000)
    r = sub.add_parser("ramp", help="step the rate up until a step fails; report the last good rate")
    common(r, "balancer,kamailio,relay")
    r.add_argument("--start", type=int, default=500)
    r.add_argument("--step", type=int, default=250)
    r.add_argument("--max-rate", type=int, default=10000)
    r.add_argument("--max-steps", type=int, default=40)
    r.add_argument("--step-seconds", type=float, default=10.0)
    r.add_argument("--min-achieved", type=float, default=0.95)
    args = ap.parse_args()
    args.command_line = "loadtest/run.py " + shlex.join(sys.argv[1:])
    if os.geteuid() != 0:
        log("note: not root; kamailio and glommio (locked memory) may need root")
    note = sipp_buffer_note()
    if note:
        log(note)
    return cmd_fixed(args) if args.scenario == "fixed" else cmd_ramp(args)


if __name__ == "__main__":
    sys.exit(main())
