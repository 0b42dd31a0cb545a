"""The measuring half of lan-bench.sh, run in the switch namespace: reaches every node at 10.79.0.N."""
import datetime, json, math, os, re, shutil, signal, statistics, subprocess, sys, tempfile, threading, time, urllib.request

KEY = "tnz_benchlan_5e2d9c1b7a0f4e3d2c1b0a9f8e7d6c5b"
DLL, NS, RUNS = os.environ["NODE_DLL"], os.environ["NS_LIST"].split(), int(os.environ["RUNS"])
PORT = 18080


class Node:
    def __init__(self, index):
        self.ns, self.ip = NS[index], f"10.79.0.{index + 1}"
        self.dir = tempfile.mkdtemp(prefix="tenzro-lanbench-")
        env = dict(os.environ, PORT=str(PORT), HOST=self.ip, API_KEYS=f"admin:{KEY}", DATA_DIR=os.path.join(self.dir, "data"),
                   LAN_DISCOVERY_ENABLED="true", DHT_ENABLED="false", LOCAL_DISCOVERY_PORT="8081", RAFT_PORT="0",
                   BENCHMARK_ON_START="false", MIN_CPU_CORES="0", MIN_MEMORY_GB="0", MIN_STORAGE_GB="0", RECONNECT_INTERVAL="200")
        self.log = os.path.join(self.dir, "out.log")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "dotnet", DLL], cwd=self.dir, env=env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        self.id = None

    def get(self, path):
        request = urllib.request.Request(f"http://{self.ip}:{PORT}{path}", headers={"authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request, timeout=2) as r:
            return json.loads(r.read())

    def wait_up(self):
        for _ in range(300):
            try:
                self.id = self.get("/status")["nodeId"]
                return self
            except Exception:
                time.sleep(0.1)
        sys.exit(f"node in {self.ns} did not come up: {open(self.log).read()[-500:]}")

    def announced_at(self):
        """Wall-clock time of the 'first announcement' log line (HH:MM:SS.fff, local time)."""
        for _ in range(3000):
            m = re.search(r"^(\d\d:\d\d:\d\d\.\d{3}) .*LAN discovery first announcement", open(self.log, errors="replace").read(), re.M)
            if m:
                clock = datetime.datetime.strptime(m.group(1), "%H:%M:%S.%f").time()
                return datetime.datetime.combine(datetime.date.today(), clock).timestamp()
            time.sleep(0.01)
        sys.exit(f"no first announcement logged by {self.ns}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if os.environ.get("KEEP_LOG"):
            shutil.copy(self.log, f"/tmp/lanbench-{self.ns}.log")  # the last log of each namespace, to see where time went
        shutil.rmtree(self.dir, ignore_errors=True)


def watch(node, holds):
    """Polls node's /api/peers every 5 ms until holds(peers) is true; returns the wall-clock time it first held."""
    while True:
        try:
            if holds(node.get("/api/peers")["peers"]):
                return time.time()
        except Exception:
            pass
        time.sleep(0.005)


def start_all(nodes, holds):
    """Starts one watcher per node; the returned function waits and gives the time the last of them saw it hold."""
    results = [None] * len(nodes)
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, watch(nodes[i], holds)), daemon=True) for i in range(len(nodes))]
    for t in threads: t.start()

    def finish():
        for t in threads: t.join(timeout=60)
        if not all(results):
            sys.exit("a watcher did not see it within 60 s")
        return max(results)
    return finish


def summary(name, values):
    values = sorted(values)
    p95 = values[math.ceil(0.95 * len(values)) - 1]  # nearest rank
    print(f"{name}: median {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms ({len(values)} runs)")


resident = [Node(i) for i in range(4)]
for n in resident: n.wait_up()
known = {n.id for n in resident}
newcomer = lambda e: e["id"] not in known
seen, linked, gone = [], [], []
for run in range(RUNS):
    # The watchers start before the new node, which has a fresh identity: any peer not among the four is it.
    seen_by_all = start_all(resident, lambda peers: any(newcomer(e) and "lan" in e["foundBy"] for e in peers))
    linked_to_all = start_all(resident, lambda peers: any(newcomer(e) and e["link"] == "open" for e in peers))
    new = Node(4)
    announced = new.announced_at()
    seen.append(seen_by_all() - announced)
    linked.append(linked_to_all() - announced)
    new.wait_up()
    killed = time.time(); new.kill()
    gone_from_all = start_all(resident, lambda peers: not any(e["id"] == new.id and ("lan" in e["foundBy"] or e["link"] == "open") for e in peers))
    gone.append(gone_from_all() - killed)
    print(f"run {run + 1}: seen by all {seen[-1] * 1000:.0f} ms, linked to all {linked[-1] * 1000:.0f} ms, gone from all {gone[-1] * 1000:.0f} ms", flush=True)
summary("seen by all", seen)
summary("linked to all", linked)
summary("SIGKILLed peer gone from all", gone)
for n in resident: n.kill()
