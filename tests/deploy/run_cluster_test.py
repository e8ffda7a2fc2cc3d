#!/usr/bin/python3
"""`deploy/cluster/run-cluster.sh --check` on free ports of 127.0.0.1: both
kessand replicas serve the same snapshot, and it stops every process it
started and removes its directory (ctest run_cluster).

Usage: run_cluster_test.py BUILD_DIR SOURCE_DIR
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile

# The whole run, start to stop; the script waits up to READY_SECONDS for each
# component.
TIMEOUT_SECONDS = 150
READY_SECONDS = 40


def free_ports(n):
    """n distinct ports of 127.0.0.1 that were free a moment ago."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def session_processes(sid):
    """The pids of session `sid` (the script puts each child in its own group)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state ppid pgrp session
            pids.append(int(entry))
    return pids


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    ports = [str(p) for p in free_ports(11)]
    with tempfile.TemporaryDirectory(prefix="kessan-run-cluster-test-") as tmp:
        env = dict(os.environ,
                   BUILD_DIR=build,
                   TMPDIR=tmp,
                   NATS_CLIENT_PORTS=",".join(ports[0:3]),
                   NATS_CLUSTER_PORTS=",".join(ports[3:6]),
                   NATS_HTTP_PORTS=",".join(ports[6:9]),
                   KESSAND_PORTS=",".join(ports[9:11]),
                   NATS_STREAM="KESSAN_RUN_CLUSTER_TEST",
                   READY_SECONDS=str(READY_SECONDS))
        # Its own session: whatever it leaves running is found and killed.
        proc = subprocess.Popen([os.path.join(source, "deploy/cluster/run-cluster.sh"), "--check"],
                                cwd=source, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            for pid in session_processes(proc.pid):
                os.kill(pid, signal.SIGKILL)
            out, _ = proc.communicate()
            print(out)
            print(f"FAIL: run-cluster.sh --check still running after {TIMEOUT_SECONDS}s")
            return 1
        print(out)
        problems = []
        if proc.returncode != 0:
            problems.append(f"run-cluster.sh --check exited {proc.returncode}")
        if "OK: both replicas serve the same snapshot" not in out:
            problems.append("no 'OK: both replicas serve the same snapshot' line")
        if "serves the same snapshot from kessand2" not in out:
            problems.append("no failover line")
        left_running = session_processes(proc.pid)
        for pid in left_running:
            os.kill(pid, signal.SIGKILL)
        if left_running:
            problems.append(f"the run left processes {left_running} running (killed now)")
        left = os.listdir(tmp)
        if left:
            problems.append(f"the run left {left} in its temporary directory")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
