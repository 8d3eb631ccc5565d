"""Measurement helpers for bench.sh (run with /usr/bin/python3).

  probe.py bpf PID            "prog_id name run_time_ns run_cnt" for each sonde_*
                              program PID holds (bpftool -j prog show on stdin)
  probe.py foreign [PID]      number of loaded sonde_* programs that PID (the
                              bench's own sonde, if any) does not hold
                              (bpftool -j prog show on stdin)
  probe.py procs              "pid ppid starttime ticks" of every process;
                              ticks = utime + stime + cutime + cstime
  probe.py others A B ROOT SECS NCPU CLK_TCK
                              CPU used between snapshots A and B by processes
                              that are not ROOT or its descendants, in percent
                              of the whole machine
"""
import glob
import json
import os
import sys


def held_progs(pid):
    """{prog_id: (run_time_ns, run_cnt)} from PID's BPF program descriptors.

    The fdinfo of a program fd has prog_id, run_time_ns and run_cnt (link fds
    have prog_id but no run_time_ns). Debian's bpftool shows no "pids".
    """
    progs = {}
    for path in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            with open(path) as f:
                kv = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if "prog_id" in kv and "run_time_ns" in kv:
            progs[int(kv["prog_id"])] = (int(kv["run_time_ns"]), int(kv["run_cnt"]))
    return progs


def loaded_sonde_progs():
    try:
        data = json.load(sys.stdin) or []
    except ValueError:
        data = []
    return {p["id"]: p.get("name", "") for p in data if p.get("name", "").startswith("sonde_")}


def cmd_bpf(pid):
    names = loaded_sonde_progs()
    for pid_, (ns, cnt) in sorted(held_progs(pid).items()):
        if pid_ in names:
            print(pid_, names[pid_], ns, cnt)


def cmd_foreign(pid=None):
    names = loaded_sonde_progs()
    ours = set(held_progs(pid)) if pid else set()
    print(len(set(names) - ours))


def cmd_procs():
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/stat") as f:
                s = f.read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        # after "pid (comm) ": state ppid ... utime(12) stime(13) cutime(14) cstime(15) ... starttime(20)
        print(d[6:], f[1], f[19], int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]))


def read_procs(path):
    out = {}
    with open(path) as f:
        for line in f:
            pid, ppid, start, ticks = line.split()
            out[pid] = (ppid, start, int(ticks))
    return out


def cmd_others(a, b, root, secs, ncpu, clk):
    before, after = read_procs(a), read_procs(b)
    parent = {p: v[0] for p, v in before.items()}
    parent.update({p: v[0] for p, v in after.items()})

    def ours(p):
        for _ in range(64):
            if p == root:
                return True
            p = parent.get(p)
            if p is None or p == "0":
                return False
        return False

    ticks = 0
    for pid, (_, start, t) in after.items():
        if ours(pid):
            continue
        old = before.get(pid)
        ticks += t - old[2] if old and old[1] == start else t  # else: started meanwhile
    secs, ncpu, clk = float(secs), int(ncpu), float(clk)
    print(f"{max(ticks, 0) / clk / secs / ncpu * 100:.1f}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"bpf": cmd_bpf, "foreign": cmd_foreign, "procs": cmd_procs, "others": cmd_others}[cmd](*args)


if __name__ == "__main__":
    main()
