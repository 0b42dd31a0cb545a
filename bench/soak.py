#!/usr/bin/env python3
"""The soak (docs/RELIABILITY.md): the real node under a steady mixed load for a long time, sampled every 10 s.

Starts one node process (Release build) on loopback with its own DATA_DIR (results kept 5 minutes, so the
store reaches a steady size), runs CLIENTS clients that submit every
task type (store, compute, process, validate, aggregate, inference, train), read results and cancel a few, and
samples the node every INTERVAL seconds: resident memory, open file handles, threads, the SQLite files' size,
reservations, queued and running tasks. After the load stops it waits for the queue to empty and checks that no
reservation is left and no task is stuck. It prints, for each figure, the least-squares slope per hour after the
warm-up (the first fifth of the run, and at least the 11 minutes the store takes to reach its steady size in runs
longer than 20 minutes) and the samples as CSV.

Usage: python3 bench/soak.py [--minutes 30] [--clients 3] [--interval 10] [--csv FILE]
Exit 0 when the run holds (no leaked reservation, no stuck task, every acknowledged task final); 1 otherwise.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLL = os.path.join(ROOT, "src", "Tenzro.Node", "bin", "Release", "net10.0", "tenzro-node.dll")
RETENTION = 300  # RESULT_RETENTION_PERIOD of the soaked node, in seconds
WAT = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, directory):
        self.port = free_port()
        self.data = os.path.join(directory, "data")
        env = dict(os.environ, PORT=str(self.port), HOST="127.0.0.1", DATA_DIR=self.data, BENCHMARK_ON_START="false",
                   MIN_CPU_CORES="0", MIN_MEMORY_GB="0", MIN_STORAGE_GB="0", LOCAL_DISCOVERY_PORT="0", RAFT_PORT="0",
                   P2P_HOST="127.0.0.1", LAN_DISCOVERY_ENABLED="false", DHT_ENABLED="false", LOG_LEVEL="warning",
                   RESULT_RETENTION_PERIOD=str(RETENTION))
        self.log = open(os.path.join(directory, "node.log"), "wb")
        self.process = subprocess.Popen(["dotnet", DLL], cwd=directory, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the node exited with {self.process.returncode}; see {self.log.name}")
            try:
                if self.request("GET", "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the node did not become ready within 60 s; see " + self.log.name)

    def request(self, method, path, body=None, content_type="application/json"):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"content-type": content_type} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            return response.status, parsed
        finally:
            connection.close()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def task_body(kind, n, model):
    return {
        "store": {"type": "store", "data": {"content": f"soak payload {n}"}},
        "compute": {"type": "compute", "data": {"wat": WAT, "entry": "add", "args": [n % 1000, 7]}},
        "process": {"type": "process", "data": {"input": [3, 1, 2, n % 100], "config": {"op": "sum"}}},
        "validate": {"type": "validate", "data": {"task": {"type": "process", "data": {"input": [1, 2, n % 10], "config": {"op": "sum"}}},
                                                  "expectedDigest": "0" * 64}},
        "aggregate": {"type": "aggregate", "data": {"strategy": "majority", "inputs": ["yes", "no", "yes", str(n % 10)]}},
        "inference": {"type": "inference", "data": {"model": model, "inputs": {"x": {"type": "float32", "shape": [2, 4],
                                                                                    "data": [1, 2, 3, 4, 0.5, -1, 0, n % 10]}}}},
        "train": {"type": "train", "data": {"model": "linear", "features": [[0, 0], [1, 0], [0, 1]], "labels": [1, 3, n % 10],
                                            "hyperparameters": {"epochs": 5, "learningRate": 0.1, "seed": 1}}},
    }[kind]


class Load:
    KINDS = ["store", "compute", "process", "validate", "aggregate", "inference", "train"]

    def __init__(self, node, model, clients):
        self.node, self.model, self.clients = node, model, clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted, self.refused, self.cancelled, self.errors = [], 0, 0, []

    def client(self, index):
        rng = random.Random(index)
        n = 0
        while not self.stop.is_set():
            n += 1
            kind = self.KINDS[n % len(self.KINDS)]
            task_id = f"soak-{index}-{n}"
            body = dict(task_body(kind, n, self.model), taskId=task_id)
            try:
                code, answer = self.node.request("POST", "/api/tasks/execute", json.dumps(body))
                if code in (200, 202):
                    with self.lock:
                        self.accepted.append((task_id, time.time()))
                    if rng.random() < 0.02:
                        if self.node.request("DELETE", f"/api/tasks/{task_id}")[0] == 202:
                            with self.lock:
                                self.cancelled += 1
                    elif rng.random() < 0.5:
                        self.node.request("GET", f"/api/tasks/{task_id}/result")
                elif code in (429, 503):
                    with self.lock:
                        self.refused += 1
                    time.sleep(0.5)
                else:
                    with self.lock:
                        self.errors.append(f"{kind}: {code} {str(answer)[:200]}")
            except OSError as e:
                with self.lock:
                    self.errors.append(f"{kind}: {e}")
            time.sleep(0.05)

    def start(self):
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.clients)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def sample(node, started):
    pid = node.process.pid
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    db = sum(os.path.getsize(os.path.join(node.data, name)) for name in ("node.db", "node.db-wal")
             if os.path.exists(os.path.join(node.data, name)))
    _, resources = node.request("GET", "/api/resources/status")
    _, st = node.request("GET", "/status")
    tasks = (st or {}).get("tasks") or {}
    return {
        "seconds": round(time.time() - started, 1),
        "rssMB": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "handles": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
        "dbMB": round(db / 1048576, 2),
        "reservations": len((resources or {}).get("reservations") or []),
        "queued": tasks.get("queued", 0),
        "running": tasks.get("running", 0),
    }


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) pairs, per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx * 3600


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--csv", default=None)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "src", "Tenzro.Node"), "-c", "Release", "--nologo", "-clp:ErrorsOnly"],
                       check=True, stdout=subprocess.DEVNULL)
    directory = tempfile.mkdtemp(prefix="tenzro-soak-")
    node = Node(directory)
    ok = True
    try:
        with open(os.path.join(ROOT, "tests", "models", "linear.onnx"), "rb") as f:
            code, answer = node.request("PUT", "/api/models", f.read(), "application/octet-stream")
        if code not in (200, 201):
            raise SystemExit(f"uploading the model failed: {code} {answer}")
        load = Load(node, answer["sha256"], args.clients)
        started = time.time()
        load.start()
        samples = []
        end = started + args.minutes * 60
        while time.time() < end:
            samples.append(sample(node, started))
            print(json.dumps(samples[-1]), flush=True)
            time.sleep(max(0.0, min(args.interval, end - time.time())))
        load.finish()
        # Let the queue empty, then check that nothing is left behind.
        deadline = time.time() + 120
        while time.time() < deadline:
            last = sample(node, started)
            if last["queued"] == 0 and last["running"] == 0 and last["reservations"] == 0:
                break
            time.sleep(1)
        samples.append(last)
        # Every accepted task is final, or gone because its tombstone outlived two retention periods (404 is then right).
        stuck, purged = [], 0
        for task_id, accepted_at in load.accepted:
            code, status = node.request("GET", f"/api/tasks/{task_id}")
            if code == 404 and accepted_at < time.time() - 2 * RETENTION:
                purged += 1
            elif code != 200 or status.get("state") not in ("completed", "failed", "cancelled", "timed_out"):
                stuck.append(f"{task_id}: {code} {(status or {}).get('state')}")
        # The store reaches its steady size once tombstones begin to go: two retention periods (RETENTION) after the
        # first tasks ended. The warm-up is that, or the first fifth of the run if that is longer (short runs: a fifth).
        steady_from = max(args.minutes * 60 / 5, 2 * RETENTION + 60) if args.minutes * 60 > 4 * RETENTION else args.minutes * 60 / 5
        warm = [s for s in samples if s["seconds"] >= steady_from]
        print()
        print(f"steady from {steady_from:.0f} s; minutes {args.minutes}, clients {args.clients}, tasks accepted {len(load.accepted)}, refused (429/503) {load.refused}, "
              f"cancelled {load.cancelled}, unexpected answers {len(load.errors)}")
        for key in ("rssMB", "handles", "threads", "dbMB"):
            values = [s[key] for s in warm]
            print(f"{key}: first {warm[0][key]}, last {warm[-1][key]}, min {min(values)}, max {max(values)}, "
                  f"slope after warm-up {slope_per_hour([(s['seconds'], s[key]) for s in warm]):+.2f}/hour")
        print(f"after the load: queued {last['queued']}, running {last['running']}, reservations left {last['reservations']}, "
              f"tasks forgotten after two retention periods {purged}, tasks not final or lost {len(stuck)}")
        for line in (load.errors[:5] + stuck[:5]):
            print("  " + line)
        ok = last["reservations"] == 0 and not stuck and last["queued"] == 0 and last["running"] == 0 and not load.errors
        if args.csv:
            with open(args.csv, "w") as f:
                f.write(",".join(samples[0].keys()) + "\n")
                for s in samples:
                    f.write(",".join(str(v) for v in s.values()) + "\n")
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)
    print("soak holds" if ok else "soak FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
