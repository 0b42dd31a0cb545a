"""The measuring half of group-bench.sh (docs/BENCHMARKS.md, "Aggregation groups").

Every node is a real process on 127.0.0.1 with LAN discovery and the DHT off, linked to the others by tenzro://
bootstrap entries, each with its own data directory and ports. Three measurements:
  formation RUNS   three fresh nodes; the clock starts when the third node's link to the first is open (the
                   threshold of 3 is met) and stops when all three name one leader and the leader lists 3 members;
  failover KILLS   one group with AGGREGATION_ELECTION_TIMEOUT (150 ms: timeouts drawn 150-300 ms); KILLS times the
                   leader is killed with SIGKILL; the clock stops when both survivors name the same new leader. The
                   marker is the committed group state (group id and member ids) read from the leader before each
                   kill: it must be the new leader's after the failover (a lost or rolled-back entry changes it).
                   The killed node is restarted on its data directory and must rejoin before the next kill;
  steady MINUTES   one group at the default election timeout while two busy loops at nice 19 load the cores;
                   every leader change any node reports (including to no leader) is counted.
Polls every POLL_MS (20) ms, so the times are good to about that.
"""
import json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request

from ports import free_port

DLL = os.environ["NODE_DLL"]
POLL = int(os.environ.get("POLL_MS", "20")) / 1000
BASE_ENV = {"BENCHMARK_ON_START": "false", "LAN_DISCOVERY_ENABLED": "false", "DHT_ENABLED": "false", "P2P_HOST": "127.0.0.1",
            "MIN_CPU_CORES": "0", "MIN_MEMORY_GB": "0", "MIN_STORAGE_GB": "0", "LOG_LEVEL": "warning", "RECONNECT_INTERVAL": "200",
            "NODE_TIER": "aggregator", "AGGREGATION_THRESHOLD": "3", "AGGREGATION_TIMEOUT": "60000"}


def call(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError, urllib.error.HTTPError):
        return None


_nodes = []


class Node:
    def __init__(self, name, **env):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"tenzro-groupbench-{name}.")
        self.port, self.p2p, self.raft = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **BASE_ENV, "PORT": str(self.port), "DATA_DIR": os.path.join(self.dir, "data"),
                    "LOCAL_DISCOVERY_PORT": str(self.p2p), "RAFT_PORT": str(self.raft), **{k: str(v) for k, v in env.items()}}
        self.proc, self.id = None, None
        _nodes.append(self)

    def start(self, bootstrap=()):
        if bootstrap:
            self.env["BOOTSTRAP_NODES"] = ",".join(n.address() for n in bootstrap)
        self.proc = subprocess.Popen(["dotnet", DLL], cwd=self.dir, env=self.env,
                                     stdout=open(os.path.join(self.dir, "out.log"), "ab"), stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited: {self.log()[-400:]}")
            status = call(self.url + "/status")
            if status:
                self.id = status.get("nodeId")
                return self
            time.sleep(0.2)
        sys.exit(f"{self.name}: no /status within 120 s")

    def address(self):
        return f"tenzro://{self.id}@127.0.0.1:{self.p2p}"

    def view(self):
        return call(self.url + "/api/aggregation") or {}

    def link_open(self, other):
        peers = (call(self.url + "/api/peers") or {}).get("peers", [])
        return any(p.get("id") == other.id and p.get("link") == "open" for p in peers)

    def log(self):
        try:
            return open(os.path.join(self.dir, "out.log"), errors="replace").read()
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def remove(self):
        self.kill()
        if os.environ.get("KEEP_LOGS"):
            shutil.copy(os.path.join(self.dir, "out.log"), f"/tmp/groupbench-{self.name}.log")
        shutil.rmtree(self.dir, ignore_errors=True)


def agreed(nodes, not_leader=None):
    """The leader's view when every node names one group and one leader (not not_leader) that lists them all; else None."""
    views = [n.view() for n in nodes]
    leaders = {v.get("leaderId") for v in views}
    groups = {v.get("groupId") for v in views}
    if len(leaders) != 1 or len(groups) != 1 or None in leaders or None in groups or not_leader in leaders:
        return None
    leader = [v for v in views if v.get("state") == "leader"]
    return leader[0] if len(leader) == 1 and all(v.get("state") in ("leader", "member") for v in views) else None


def wait(what, fn, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = fn()
        if found:
            return found
        time.sleep(POLL)
    sys.exit(f"{what} not within {seconds} s\n" + "\n".join(f"--- {n.name}\n{n.log()[-1500:]}" for n in _nodes))


def group(names, **env):
    a = Node(names[0], **env).start()
    b = Node(names[1], **env).start([a])
    wait("b linked to a", lambda: a.link_open(b), 60)
    c = Node(names[2], **env).start([a, b])
    return a, b, c


def formation(runs):
    times = []
    for run in range(runs):
        a, b, c = group([f"f{run}a", f"f{run}b", f"f{run}c"])
        wait("c linked to a", lambda: a.link_open(c) and b.link_open(c), 60)
        began = time.monotonic()
        view = wait("a group of three", lambda: (v := agreed([a, b, c])) and len(v.get("members", [])) == 3 and v, 60)
        times.append(time.monotonic() - began)
        print(f"formation run {run + 1}: {times[-1] * 1000:.0f} ms (leader {view['leaderId'][:12]})", flush=True)
        for n in (a, b, c):
            n.remove()
            _nodes.remove(n)
    print(f"formation: runs {runs}, median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}")


def marker(view):
    return (view.get("groupId"), tuple(sorted(m["id"] for m in view.get("members", []))))


LEADER_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) \w+ Tenzro\.Node\.Aggregation\.RaftGroupLog: Group leader is now (\S+)", re.M)


def seconds_of_day(wall):
    t = time.localtime(wall)
    return t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec + (wall % 1)


def named_leader_at(node, killed, since):
    """When node's log first names a leader other than killed (its raft endpoint) at or after since (seconds of day)."""
    for h, m, sec, endpoint in LEADER_LINE.findall(node.log()):
        at = int(h) * 3600 + int(m) * 60 + float(sec)
        if at >= since and endpoint not in ("none", killed):
            return at
    return None


def p50_p99(times):
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))], times[-1]


def failover(kills):
    timeout = os.environ.get("AGGREGATION_ELECTION_TIMEOUT", "150")
    # The nodes log at information level here: each one's "Group leader is now" line (event 5002) times the failover
    # as the survivors saw it, without the poller's 20 ms and HTTP rounds.
    nodes = list(group(["ka", "kb", "kc"], AGGREGATION_ELECTION_TIMEOUT=timeout, LOG_LEVEL="information"))
    view = wait("a group of three", lambda: (v := agreed(nodes)) and len(v.get("members", [])) == 3 and v, 60)
    times, logged, lost = [], [], 0
    for kill in range(kills):
        before = marker(view)
        leader = next(n for n in nodes if n.id == view["leaderId"])
        survivors = [n for n in nodes if n is not leader]
        killed_at = seconds_of_day(time.time())
        leader.kill()
        began = time.monotonic()
        after = wait("a new leader", lambda: agreed(survivors, not_leader=leader.id), 60)
        times.append(time.monotonic() - began)
        if marker(after) != before:
            lost += 1
            print(f"kill {kill + 1}: committed state changed: {before} -> {marker(after)}", flush=True)
        seen = [named_leader_at(n, f"127.0.0.1:{leader.raft}", killed_at) for n in survivors]
        if None not in seen:
            logged.append(max(seen) - killed_at)
        leader.start()
        view = wait("the killed node rejoining", lambda: (v := agreed(nodes)) and len(v.get("members", [])) == 3 and v, 120)
        in_logs = f"{logged[-1] * 1000:.0f} ms" if None not in seen else "not found"
        print(f"kill {kill + 1}: new leader after {times[-1] * 1000:.0f} ms (polled), {in_logs} (the survivors' logs)", flush=True)
    p50, p99, top = p50_p99(times)
    print(f"failover: kills {kills}, election timeout {timeout} ms, polled: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {top * 1000:.0f} ms; committed state lost {lost}")
    if logged:
        p50, p99, top = p50_p99(logged)
        print(f"failover in the survivors' logs (the later of the two naming the new leader; {len(logged)} kills): "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {top * 1000:.0f} ms")


def steady(minutes):
    nodes = group(["sa", "sb", "sc"])
    wait("a group of three", lambda: (v := agreed(nodes)) and len(v.get("members", [])) == 3 and v, 60)
    burners = [subprocess.Popen(["nice", "-n", "19", "sh", "-c", "while :; do :; done"]) for _ in range(2)]
    try:
        seen = {n.name: n.view().get("leaderId") for n in nodes}
        changes = 0
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            for n in nodes:
                leader = n.view().get("leaderId")
                if leader != seen[n.name]:
                    changes += 1
                    print(f"{time.strftime('%H:%M:%S')} {n.name}: leader {str(seen[n.name])[:12]} -> {str(leader)[:12]}", flush=True)
                    seen[n.name] = leader
            time.sleep(0.25)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    print(f"steady: {minutes} min at the default election timeout with 2 busy loops at nice 19, leader changes seen {changes}, "
          f"load average {os.getloadavg()[0]:.2f}")


def main():
    mode, count = sys.argv[1], float(sys.argv[2])
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores {os.cpu_count()}", flush=True)
    try:
        {"formation": lambda: formation(int(count)), "failover": lambda: failover(int(count)), "steady": lambda: steady(count)}[mode]()
    finally:
        for n in list(_nodes):
            n.remove()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
