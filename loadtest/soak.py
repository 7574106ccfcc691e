#!/usr/bin/env python3
"""sip-balancer soak run (Python 3 stdlib only; helpers from run.py).

  loadtest/soak.py --minutes 30 --rate 2500

SIPp UAC -> balancer -> two SIPp UAS nodes (the `fixed` set-up of run.py,
same ports, pinning and scenarios) for N minutes at a fixed rate. Every
--sample-seconds it prints the balancer's RSS (VmRSS), its CPU %, and
SIPp's counters. At the end it prints a markdown table, appends it to
loadtest/results/<date>-<hostname>.md and checks:

- 0 failed calls, and every call completed;
- RSS flat: after the warm-up (2 x callIdAffinityMaxTimeInCache + 10 s,
  while the affinity table fills to its steady size), the largest RSS of
  the last quarter of the samples is at most the largest of the first
  quarter + --rss-slack-mib.

Exit status 0 when both hold. See loadtest/README.md.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the load harness: ports, configs, processes)


def rss_bytes(pid):
    """VmRSS of `pid` in bytes, None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def flat(samples, warmup_s, slack):
    """(ok, first-quarter max, last-quarter max, samples judged) over the
    samples taken after the warm-up."""
    judged = [s["rss"] for s in samples if s["t"] >= warmup_s and s["rss"] is not None]
    if len(judged) < 4:
        return False, None, None, len(judged)
    q = max(1, len(judged) // 4)
    first, last = max(judged[:q]), max(judged[-q:])
    return last <= first + slack, first, last, len(judged)


def sample_row(s):
    mib = "–" if s["rss"] is None else f"{s['rss'] / 2**20:.1f}"
    return (f"| {s['t']:.0f} | {mib} | {s['cpu']:.1f} | {s['sent']} | {s['ok']} | "
            f"{s['failed']} | {s['open']} |")


def soak(args):
    calls = int(args.rate * args.minutes * 60)
    ports = run.Ports(args.base_port)
    rundir = run.run_dir(args, "soak")
    busy = [p for p in ports.all() if not run.port_free(p)]
    if busy:
        run.log(f"ports busy: {busy}")
        return 2, [], {}
    args.balancer_extra = f"algorithm: {{ callIdAffinityMaxTimeInCache: {args.cache_seconds} }}\n"
    uas = tgt = uac = None
    samples = []
    try:
        uas = run.start_uas(ports, rundir, args.transport, args.node_cpus)
        if uas is None:
            run.log("UAS nodes did not start")
            return 2, [], {}
        tgt, err = run.start_target("balancer", args.shards, args.transport, ports, rundir, args)
        if tgt is None:
            run.log(err)
            return 2, [], {}
        uacdir = os.path.join(rundir, "uac")
        os.makedirs(uacdir, exist_ok=True)
        max_s = calls / args.rate + args.tail_seconds
        cmd = run.uac_command(ports, args.rate, calls, args, max_s)
        run.log(f"soak: {calls} calls at {args.rate}/s for {args.minutes} min; UAC: {shlex.join(cmd)}")
        uac = subprocess.Popen(cmd, cwd=uacdir, stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(uacdir, "stderr"), "w"),
                               start_new_session=True)
        w0 = time.time()
        last_t, last_w = run.tree_ticks([tgt.pid]), w0
        while uac.poll() is None:
            if time.time() > w0 + max_s + 10:
                run.log("UAC over its time bound, stopping it")
                run.stop(uac, signal.SIGKILL)
                break
            time.sleep(args.sample_seconds - (time.time() - w0) % args.sample_seconds)
            if uac.poll() is not None:
                break
            t, w = run.tree_ticks([tgt.pid]), time.time()
            st = run.read_sipp_csv_last(os.path.join(uacdir, "stat.csv"))
            s = {"t": w - w0, "rss": rss_bytes(tgt.pid),
                 "cpu": 100.0 * (t - last_t) / run.CLK_TCK / max(1e-6, w - last_w),
                 "sent": int(st.get("OutgoingCall(C)", 0) or 0),
                 "ok": int(st.get("SuccessfulCall(C)", 0) or 0),
                 "failed": int(st.get("FailedCall(C)", 0) or 0),
                 "open": int(st.get("CurrentCall", 0) or 0)}
            last_t, last_w = t, w
            samples.append(s)
            run.log(sample_row(s))
        time.sleep(1.3)  # the last stat line (-fd 1)
        st = run.read_sipp_csv_last(os.path.join(uacdir, "stat.csv"))
        final = {"calls": calls, "ok": int(st.get("SuccessfulCall(C)", 0) or 0),
                 "failed": int(st.get("FailedCall(C)", 0) or 0),
                 "alive": tgt.poll() is None, "rundir": rundir}
    finally:
        for p in [uac] + (uas or []):
            run.stop(p, signal.SIGKILL, grace=2)
        run.stop(tgt, signal.SIGTERM)
    return None, samples, final


def report(args, samples, final):
    warmup = 2 * args.cache_seconds + 10
    slack = args.rss_slack_mib * 2**20
    is_flat, first, last, judged = flat(samples, warmup, slack)
    calls_ok = final["failed"] == 0 and final["ok"] == final["calls"] and final["alive"]
    mib = (lambda b: "–" if b is None else f"{b / 2**20:.1f} MiB")
    table = "\n".join(["| t s | RSS MiB | CPU % | sent | ok | failed | open |",
                       "|---|---|---|---|---|---|---|"] + [sample_row(s) for s in samples])
    verdict = (f"calls ok {final['ok']} / {final['calls']}, failed {final['failed']}"
               f"{'' if final['alive'] else ', balancer died'} -> {'PASS' if calls_ok else 'FAIL'}; "
               f"RSS after the {warmup} s warm-up ({judged} samples): first-quarter max {mib(first)}, "
               f"last-quarter max {mib(last)}, slack {args.rss_slack_mib} MiB -> "
               f"{'PASS' if is_flat else 'FAIL'}")
    print("\n" + table + "\n\n" + verdict)
    notes = run.env_notes(args)[:1] + [
        f"balancer {args.shards} shard(s), callIdAffinityMaxTimeInCache {args.cache_seconds} s, "
        f"UAC pause {args.pause_ms} ms, sample every {args.sample_seconds} s",
        verdict, f"raw run directory: {final['rundir']}"]
    path = run.write_results(f"soak {args.minutes} min at {args.rate} calls/s ({args.transport})",
                             args.command_line, table, notes)
    run.log(f"results appended to {path}")
    return 0 if calls_ok and is_flat else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=2500,
                    help="calls/s (default 2500: half the highest rate with 0 failed calls "
                         "measured on this VM, loadtest/results/2026-11-26-vm.md)")
    ap.add_argument("--sample-seconds", type=float, default=10.0)
    ap.add_argument("--rss-slack-mib", type=float, default=2.0)
    ap.add_argument("--cache-seconds", type=int, default=30,
                    help="callIdAffinityMaxTimeInCache: the affinity table reaches its steady "
                         "size after about twice this (default 30)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--transport", default="udp", choices=["udp", "tcp"])
    ap.add_argument("--base-port", type=int, default=15060)
    ap.add_argument("--pause-ms", type=int, default=0)
    ap.add_argument("--max-concurrent", type=int, default=5000)
    ap.add_argument("--tail-seconds", type=float, default=15.0)
    ap.add_argument("--node-cpus", default="0")
    ap.add_argument("--balancer-bin", default=os.path.join(run.ROOT, "target/release/sip-balancer"))
    ap.add_argument("--balancer-warmup", type=float, default=1.5)
    ap.add_argument("--workdir", default="/tmp/sip-lb-loadtest")
    args = ap.parse_args()
    args.command_line = "loadtest/soak.py " + shlex.join(sys.argv[1:])
    note = run.sipp_buffer_note()
    if note:
        run.log(note)
    err, samples, final = soak(args)
    if err is not None:
        return err
    return report(args, samples, final)


if __name__ == "__main__":
    sys.exit(main())
