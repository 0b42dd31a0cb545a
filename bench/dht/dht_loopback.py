#!/usr/bin/env python3
"""DHT lookups between real node processes on loopback.

Starts N nodes (default 20) on 127.0.0.1, each with its own API port and peer-link/DHT port, LAN discovery off, the
DHT bootstrapping only from the first node's udp://127.0.0.1:PORT entry; every fourth node has NODE_TIER=training.
Once every node's routing table holds at least half of the others and the last node finds every trainer, each node in turn asks
GET /api/peers?tier=training (which looks the tier key up in the DHT), WARMUP rounds (default 20) untimed and more until
the runtime has stopped recompiling hot code (JIT_SETTLED, WARMUP_MAX_S), then LOOKUPS rounds timed. Prints the client's time for
each answer (HTTP included), the nodes' own lookup durations from /metrics (tenzro_dht_lookup_duration_seconds:
mean, and the share of lookups within 5 and 10 ms), the mean hops, and how many answers listed every trainer.

Run it through bench/dht/dht-loopback.sh, which builds the node and runs this script in a network namespace of its own
(loopback only), so that the DHT never runs on the host's interfaces:

    sudo bench/dht/dht-loopback.sh [NODES] [LOOKUPS]      # defaults: 20 nodes, 10 lookups per node
"""
import json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DLL = os.environ.get("NODE_DLL", os.path.join(ROOT, "src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll"))
KEY = "tnz_benchdht_4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f"
if not os.environ.get("TENZRO_BENCH_NETNS"):
    sys.exit("run this through bench/dht/dht-loopback.sh: the DHT runs only inside a network namespace the benchmark made")
NODES = int(sys.argv[1]) if len(sys.argv) > 1 else 20
LOOKUPS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
WARMUP = int(os.environ.get("WARMUP", "20"))
JIT_SETTLED = float(os.environ.get("JIT_SETTLED", "0.02"))
WARMUP_MAX_S = float(os.environ.get("WARMUP_MAX_S", "300"))
# The runtime starts recompiling only once a method has been called often enough and a short delay has passed, so a
# quiet compiler in the first seconds does not mean it has finished.
WARMUP_MIN_S = float(os.environ.get("WARMUP_MIN_S", "20"))


def free_port():
    """A port number free for both TCP and UDP on 127.0.0.1 (the DHT binds the peer links' number for UDP)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


class Node:
    def __init__(self, index, bootstrap):
        self.api, self.p2p = free_port(), free_port()
        self.tier = "training" if index % 4 == 1 else "inference"
        self.dir = tempfile.mkdtemp(prefix="tenzro-dhtbench-")
        env = dict(os.environ, PORT=str(self.api), HOST="127.0.0.1", API_KEYS=f"admin:{KEY}", DATA_DIR=os.path.join(self.dir, "data"),
                   P2P_HOST="127.0.0.1", LOCAL_DISCOVERY_PORT=str(self.p2p), LAN_DISCOVERY_ENABLED="false", DHT_ENABLED="true",
                   BOOTSTRAP_NODES=bootstrap or "", NODE_TIER=self.tier, RAFT_PORT="0", BENCHMARK_ON_START="false",
                   MIN_CPU_CORES="0", MIN_MEMORY_GB="0", MIN_STORAGE_GB="0", METRICS_UPDATE_INTERVAL="1000")
        self.log = os.path.join(self.dir, "out.log")
        self.proc = subprocess.Popen(["dotnet", DLL], cwd=self.dir, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        self.id = None

    def get(self, path, raw=False):
        request = urllib.request.Request(f"http://127.0.0.1:{self.api}{path}", headers={"authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            body = r.read()
            return body.decode() if raw else json.loads(body)

    def wait_up(self):
        for _ in range(600):
            try:
                self.id = self.get("/status")["nodeId"]
                return
            except Exception:
                time.sleep(0.1)
        sys.exit(f"a node did not come up:\n{open(self.log).read()[-1500:]}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(condition, what, seconds=60):
    deadline = time.time() + seconds
    error = None
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception as e:
            error = e
        time.sleep(0.2)
    sys.exit(f"timed out: {what} ({error or 'not yet'})")


def lookup_metrics(node):
    """(count, sum in s, count within 5 ms, count within 10 ms, hops count, hops sum) from the node's /metrics."""
    text = node.get("/metrics", raw=True)
    def value(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else 0.0
    return (value(r'^tenzro_dht_lookup_duration_seconds_count(?:\{[^}]*\})? (\S+)'),
            value(r'^tenzro_dht_lookup_duration_seconds_sum(?:\{[^}]*\})? (\S+)'),
            value(r'^tenzro_dht_lookup_duration_seconds_bucket\{[^}]*le="0\.005"[^}]*\} (\S+)'),
            value(r'^tenzro_dht_lookup_duration_seconds_bucket\{[^}]*le="0\.01"[^}]*\} (\S+)'),
            value(r'^tenzro_dht_lookup_hops(?:_hop)?_count(?:\{[^}]*\})? (\S+)'),
            value(r'^tenzro_dht_lookup_hops(?:_hop)?_sum(?:\{[^}]*\})? (\S+)'))


def cpu_seconds(node):
    """The node process's user and system CPU time so far, from /proc."""
    with open(f"/proc/{node.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def jit_seconds(node):
    """CPU time of the node's tiered-compilation threads (the runtime compiling hot code again at a higher tier), those
    that have exited included: the runtime ends the thread when it has nothing to compile and starts a new one later."""
    seen = node.__dict__.setdefault("jit_threads", {})
    for tid in os.listdir(f"/proc/{node.proc.pid}/task"):
        try:
            with open(f"/proc/{node.proc.pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        if name.startswith(".NET Tiered"):
            seen[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return sum(seen.values())


def idle_cpu(nodes, seconds=10):
    """Each node's CPU use while nothing asks anything of it, in % of one core."""
    before = [cpu_seconds(n) for n in nodes]
    time.sleep(seconds)
    return [(cpu_seconds(n) - b) / seconds * 100 for n, b in zip(nodes, before)]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    if not os.path.exists(DLL):
        sys.exit(f"{DLL} not found: dotnet build -c Release src/Tenzro.Node")
    nodes = []
    try:
        first = Node(0, None)
        nodes.append(first)
        first.wait_up()
        bootstrap = f"udp://127.0.0.1:{first.p2p}"
        nodes += [Node(i, bootstrap) for i in range(1, NODES)]
        for node in nodes:
            node.wait_up()
        trainers = {n.id for n in nodes if n.tier == "training"}
        for node in nodes:
            wait_for(lambda: node.get("/api/network/status")["dht"]["routingTableSize"] >= NODES // 2,
                     f"routing tables half filled (node {nodes.index(node)} of {NODES}: {node.get('/api/network/status')['dht']}; log {node.log})", 120)
        last = nodes[-1]
        wait_for(lambda: trainers <= {p["id"] for p in last.get("/api/peers?tier=training")["peers"]}, "every trainer found by tier")

        # Warm-up: a node fresh from start compiles its code again at a higher tier for its first seconds of work (most of
        # the CPU of the first lookups); what a running node answers is measured after it.
        # Then warm-up rounds go on (for at least WARMUP_MIN_S) until the runtime has stopped recompiling: until, in one
        # round, the nodes' tiered-compilation threads used at most JIT_SETTLED of all the CPU the nodes used (at most WARMUP_MAX_S).
        rounds, started, jit_share = 0, time.monotonic(), 1.0
        while rounds < WARMUP or (time.monotonic() - started < WARMUP_MIN_S or jit_share > JIT_SETTLED) and time.monotonic() - started < WARMUP_MAX_S:
            jit_before, cpu_before = sum(jit_seconds(n) for n in nodes), sum(cpu_seconds(n) for n in nodes)
            for node in nodes:
                node.get("/api/peers?tier=training")
            rounds += 1
            jit_share = (sum(jit_seconds(n) for n in nodes) - jit_before) / max(sum(cpu_seconds(n) for n in nodes) - cpu_before, 1e-9)
        print(f"warm-up: {rounds} rounds in {time.monotonic() - started:.0f} s; in the last one the runtime's tiered compilation "
              f"took {jit_share:.1%} of the nodes' CPU (settled at <= {JIT_SETTLED:.0%})", flush=True)
        idle = idle_cpu(nodes)
        print(f"after the warm-up, idle for 10 s: CPU per node mean {statistics.mean(idle):.2f} %, "
              f"max {max(idle):.2f} % of one core; load average {os.getloadavg()[0]:.2f}", flush=True)
        sizes = [n.get("/api/network/status")["dht"]["routingTableSize"] for n in nodes]
        before = [lookup_metrics(n) for n in nodes]
        cpu_before = sum(cpu_seconds(n) for n in nodes)
        times, complete = [], 0
        for _ in range(LOOKUPS):
            for node in nodes:
                start = time.perf_counter()
                peers = node.get("/api/peers?tier=training")["peers"]
                times.append((time.perf_counter() - start) * 1000)
                found = {p["id"] for p in peers} | ({node.id} if node.tier == "training" else set())
                complete += trainers <= found
        cpu = sum(cpu_seconds(n) for n in nodes) - cpu_before
        after = [lookup_metrics(n) for n in nodes]
        delta = [sum(a[i] - b[i] for a, b in zip(after, before)) for i in range(6)]
        count = delta[0] or 1
        print(f"dht-loopback nodes={NODES} lookups={len(times)}: answers listing every trainer {complete}/{len(times)}; "
              f"GET /api/peers?tier=training p50 {statistics.median(times):.1f} ms p95 {percentile(times, 0.95):.1f} ms "
              f"p99 {percentile(times, 0.99):.1f} ms (client, HTTP included); in the nodes: {int(delta[0])} lookups, "
              f"mean {delta[1] / count * 1000:.1f} ms, {delta[2] / count:.0%} within 5 ms, {delta[3] / count:.0%} within 10 ms, "
              f"mean hops {delta[5] / (delta[4] or 1):.1f}; routing tables {min(sizes)}-{max(sizes)} contacts; "
              f"CPU of all nodes per answer {cpu / len(times) * 1000:.1f} ms (HTTP, lookup and the nodes' own work meanwhile)")
    finally:
        for node in nodes:
            node.stop()


if __name__ == "__main__":
    main()
