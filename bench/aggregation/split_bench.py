"""The measuring half of split-bench.sh (docs/BENCHMARKS.md, "Split tasks across a group").

Every node process runs in its own cgroup v1 CPU group held to half a core (cpu.cfs_quota_us 50000 of a
cpu.cfs_period_us of 100000): the shell that starts it writes its own pid to the group's cgroup.procs and then
execs dotnet, so the node is in its group from its first instruction (and .NET sizes itself for one core).

Three measurements, each repeated RUNS times, on the same CPU-bound compute task (a Wasm function that sums
i*i mod 1000003 over config.split.range, combine sum):
  1. one node alone: the task runs whole (its status says split applied false);
  2. a group of three: the task, submitted to a member that is not the leader, is split into PARTS parts;
  3. the same with one member (neither the home nor the leader) killed with SIGKILL mid-job, on a fresh group that
     first ran a short job (a fiftieth of the range), as the group in 2 had before its later runs, and then the
     job without a kill: the kill's extra time is given against that run and against the median of 2.
A result counts only if its digest equals the one node's digest. Times are the task's own, from submittedAt to
finishedAt of its status (polled every half second, so that polling costs the nodes little).
"""
import datetime, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request

from ports import free_port

DLL = os.environ["NODE_DLL"]
RUNS = int(os.environ.get("RUNS", "3"))
RANGE_END = int(os.environ.get("RANGE_END", "12000000000"))
PARTS = int(os.environ.get("PARTS", "6"))
LEASE_MS = int(os.environ.get("AGGREGATION_LEASE", "10000"))
QUOTA_US = int(os.environ.get("QUOTA_US", "50000"))
# cpu.shares of every node's group: high, so that each node gets its quota even while other work runs on the machine
# (the quota still caps it at QUOTA_US; the default weight of a process outside the groups is 1024).
SHARES = int(os.environ.get("SHARES", "65536"))
CPU = QUOTA_US / 100000  # what each task (and part) asks for: a node allows no more than its quota
KILL_AT = float(os.environ.get("KILL_AT", "0.4"))  # the share of the group's median time at which a member is killed
POLL_S = 0.5
CGROOT = "/sys/fs/cgroup/cpu"
TAG = f"tenzro-splitbench-{os.getpid()}"
BASE_ENV = {"BENCHMARK_ON_START": "false", "LAN_DISCOVERY_ENABLED": "false", "DHT_ENABLED": "false", "P2P_HOST": "127.0.0.1",
            "MIN_CPU_CORES": "0", "MIN_MEMORY_GB": "0", "MIN_STORAGE_GB": "0", "LOG_LEVEL": "information",
            "AGGREGATION_LEASE": str(LEASE_MS)}

WAT = """(module (func (export "squares") (param $start i64) (param $end i64) (result i64) (local $sum i64)
  (block $done (loop $next
    (br_if $done (i64.ge_s (local.get $start) (local.get $end)))
    (local.set $sum (i64.add (local.get $sum) (i64.rem_u (i64.mul (local.get $start) (local.get $start)) (i64.const 1000003))))
    (local.set $start (i64.add (local.get $start) (i64.const 1)))
    (br $next)))
  (local.get $sum)))"""


def task(end=None):
    return {"type": "compute", "timeout": 1800, "requirements": {"cpu": CPU},
            "data": {"wat": WAT, "entry": "squares"},
            "config": {"fuel": 10**14, "split": {"parts": PARTS, "range": [0, end or RANGE_END], "combine": "sum"}}}


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


_nodes = []


class Node:
    """One node process in its own half-core CPU group."""

    def __init__(self, name, **env):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"tenzro-splitbench-{name}.")
        self.port, self.p2p, self.raft = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cgroup = os.path.join(CGROOT, f"{TAG}-{name}")
        os.makedirs(self.cgroup, exist_ok=True)
        write(os.path.join(self.cgroup, "cpu.cfs_period_us"), "100000")
        write(os.path.join(self.cgroup, "cpu.cfs_quota_us"), str(QUOTA_US))
        write(os.path.join(self.cgroup, "cpu.shares"), str(SHARES))
        self.env = dict(os.environ, **BASE_ENV, PORT=str(self.port), DATA_DIR=os.path.join(self.dir, "data"),
                        LOCAL_DISCOVERY_PORT=str(self.p2p), RAFT_PORT=str(self.raft), **{k: str(v) for k, v in env.items()})
        self.proc = None
        self.id = None
        _nodes.append(self)

    def start(self):
        procs = os.path.join(self.cgroup, "cgroup.procs")
        self.proc = subprocess.Popen(["sh", "-c", f'echo $$ > {procs} && exec dotnet "$0"', DLL], cwd=self.dir, env=self.env,
                                     stdout=open(os.path.join(self.dir, "out.log"), "ab"), stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited: {self.log()[-400:]}")
            try:
                code, status = call(self.url + "/status")
                if code == 200:
                    self.id = status.get("nodeId") or status.get("peerId")
                    if str(self.proc.pid) not in read(procs).split():
                        sys.exit(f"{self.name} is not in its CPU group {self.cgroup}")
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        sys.exit(f"{self.name}: no /status within 120 s")

    def address(self):
        return f"tenzro://{self.id}@127.0.0.1:{self.p2p}"

    def aggregation(self):
        try:
            code, body = call(self.url + "/api/aggregation")
            return body if code == 200 and isinstance(body, dict) else {}
        except OSError:
            return {}

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
        """Stops the node and removes its CPU group, with the groups the node made beneath it for its tasks."""
        self.kill()
        for _ in range(50):
            try:
                for below, _, _ in sorted(os.walk(self.cgroup), key=lambda w: -len(w[0])):
                    os.rmdir(below)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
        if os.environ.get("KEEP_LOGS"):
            shutil.copy(os.path.join(self.dir, "out.log"), f"/tmp/splitbench-{self.name}.log")
        shutil.rmtree(self.dir, ignore_errors=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def until(what, fn, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if fn():
            return
        time.sleep(0.2)
    sys.exit(f"{what} not within {seconds} s")


def stamp(text):
    """Seconds since the epoch of an ISO 8601 time of a status (…Z or with an offset; fractions cut to microseconds)."""
    text = text.replace("Z", "+00:00")
    head, _, zone = text.partition("+")
    if "." in head:
        whole, fraction = head.split(".")
        head = f"{whole}.{fraction[:6]}"
    return datetime.datetime.fromisoformat(f"{head}+{zone or '00:00'}").timestamp()


def run_task(node, on_running=None, end=None):
    """
    Submits the task (over [0, end), RANGE_END unless given) to node; returns (seconds from submitted to finished, as
    the task's status gives them; final status; result). The status is polled every POLL_S only (the home's CPU is
    the job's too).
    """
    began = time.monotonic()
    code, body = call(node.url + "/api/tasks/execute", "POST", task(end))
    if code not in (200, 201, 202):
        sys.exit(f"submit answered {code}: {str(body)[:300]}")
    tid = body["taskId"]
    while True:
        code, status = call(f"{node.url}/api/tasks/{tid}")
        state = status.get("state") if isinstance(status, dict) else None
        if state == "completed":
            elapsed = stamp(status["finishedAt"]) - stamp(status["submittedAt"])
            break
        if state in ("failed", "cancelled", "timed_out"):
            sys.exit(f"task {tid} ended {state}: {status.get('error')}")
        if on_running:
            on_running(tid, time.monotonic() - began)
        time.sleep(POLL_S)
    _, result = call(f"{node.url}/api/tasks/{tid}/result")
    return elapsed, status, result


def cpu_seconds(nodes):
    """CPU seconds (user and system) each node process has used so far, from /proc/PID/stat."""
    out = {}
    for n in nodes:
        try:
            fields = read(f"/proc/{n.proc.pid}/stat").rsplit(")", 1)[1].split()
            out[n.name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return out


def throttling(node):
    """(nr_throttled, throttled_time ns) of the node's CPU group: how often its quota held it back."""
    stat = dict(line.split() for line in read(os.path.join(node.cgroup, "cpu.stat")).splitlines())
    return int(stat["nr_throttled"]), int(stat["throttled_time"])


def form_group(prefix):
    common = dict(NODE_TIER="aggregator", AGGREGATION_THRESHOLD="3")
    a = Node(f"{prefix}1", **common).start()
    b = Node(f"{prefix}2", BOOTSTRAP_NODES=a.address(), **common).start()
    c = Node(f"{prefix}3", BOOTSTRAP_NODES=f"{a.address()},{b.address()}", **common).start()
    group = [a, b, c]
    began = time.monotonic()
    until("a group of three", lambda: len({n.aggregation().get("groupId") for n in group} - {None}) == 1
          and sorted(n.aggregation().get("state") for n in group) == ["leader", "member", "member"], 120)
    formed = time.monotonic() - began
    leader = next(n for n in group if n.aggregation().get("state") == "leader")
    home = next(n for n in group if n is not leader)
    other = next(n for n in group if n is not leader and n is not home)
    return group, home, other, formed


def parts_of(status):
    return [(p.get("member", "")[:8], p.get("state"), p.get("attempts"), p.get("durationMs")) for p in status.get("parts") or []]


def main():
    print(f"load before: {read('/proc/loadavg').strip()}; {os.cpu_count()} CPUs; quota {QUOTA_US}/100000 us per node; "
          f"range [0, {RANGE_END}), {PARTS} parts, lease {LEASE_MS} ms, {RUNS} runs", flush=True)
    # One node and the group of three are up together, and their runs alternate, so that a change in the machine's
    # other load falls on both alike.
    solo = Node("solo").start()
    group, home, other, formed = form_group("g")
    print(f"group of three formed in {formed:.1f} s; home {home.id[:8]}", flush=True)
    single, grouped, digest = [], [], None
    for i in range(RUNS):
        before, throttled = cpu_seconds([solo]), throttling(solo)
        seconds, status, result = run_task(solo)
        used = cpu_seconds([solo])["solo"] - before["solo"]
        periods, waited = (a - b for a, b in zip(throttling(solo), throttled))
        split = status.get("split") or {}
        if split.get("applied") is not False:
            sys.exit(f"the node alone split the task: {split}")
        digest = digest or result["digest"]
        if result["digest"] != digest:
            sys.exit("the node alone gave two digests")
        single.append(seconds)
        print(f"one node, run {i + 1}: {seconds:.2f} s (split applied false: {split.get('reason')}); returns {result['result']['returns']}; "
              f"node cpu {used:.1f} s ({used / seconds:.2f} of a core); throttled in {periods} periods, {waited / 1e9:.1f} s; "
              f"load {read('/proc/loadavg').split()[0]}", flush=True)

        before = cpu_seconds(group)
        seconds, status, result = run_task(home)
        used = {k: round(v - before.get(k, 0), 1) for k, v in cpu_seconds(group).items()}
        if result["digest"] != digest:
            sys.exit(f"the group's digest {result['digest']} differs from the one node's {digest}")
        if not (status.get("split") or {}).get("applied"):
            sys.exit(f"the group did not split the task: {status.get('split')}")
        grouped.append(seconds)
        durations = [p[3] for p in parts_of(status) if p[3] is not None]
        print(f"group, run {i + 1}: {seconds:.2f} s, digest matches; part durations ms {durations} "
              f"(median {statistics.median(durations):.0f}); parts per member "
              f"{ {m: sum(1 for p in parts_of(status) if p[0] == m) for m in {p[0] for p in parts_of(status)}} }; "
              f"node cpu s {used} ({sum(used.values()) / seconds:.2f} cores); load {read('/proc/loadavg').split()[0]}", flush=True)
    for n in [solo, *group]:
        n.remove()
        _nodes.remove(n)

    killed, expired, reassigned, baselines = [], [], [], []
    median_group = statistics.median(grouped)
    for i in range(RUNS):
        group, home, victim, _ = form_group(f"k{i}")
        # A short job first, as the series above had before its later runs: a fresh node's first job also pays for
        # compiling the runtime's code paths, which is no part of losing a member.
        run_task(home, end=RANGE_END // 50)
        # The same job without a kill on the same group, just before: the kill's extra time is measured against it,
        # so that the machine's drift between the series (parts here ran up to a third slower than in 2 at times)
        # does not count as the cost of the kill.
        unkilled, _, _ = run_task(home)
        baselines.append(unkilled)
        at = {}

        def kill_mid(tid, elapsed):
            """Kills the victim once; then notes when its part stops counting as running there (its lease ended) and
            when another member starts it again."""
            job = next((j for j in home.aggregation().get("jobs") or [] if j.get("taskId") == tid), {})
            parts = {p.get("taskId"): p for p in job.get("partList") or []}
            if "t" not in at:
                if elapsed >= KILL_AT * median_group:
                    victim.kill()
                    at["t"] = elapsed
                    at["lost"] = [k for k, p in parts.items() if p.get("member") == victim.id and p.get("state") == "running"]
                return
            lost = [parts.get(k) or {} for k in at["lost"]]
            if "expired" not in at and any(p.get("member") != victim.id or p.get("state") != "running" for p in lost):
                at["expired"] = elapsed
            if "again" not in at and any((p.get("attempts") or 0) > 1 and p.get("state") == "running" for p in lost):
                at["again"] = elapsed

        seconds, status, result = run_task(home, kill_mid)
        if result["digest"] != digest:
            sys.exit(f"after the kill the digest {result['digest']} differs from the one node's {digest}")
        killed.append(seconds)
        expired.append(at.get("expired", seconds) - at["t"])
        reassigned.append(at.get("again", at.get("expired", seconds)) - at["t"])
        retried = [p for p in parts_of(status) if (p[2] or 0) > 1]
        print(f"member killed at {at['t']:.1f} s, run {i + 1}: {seconds:.2f} s (+{seconds - median_group:.2f} s over the group's median, "
              f"+{seconds - unkilled:.2f} s over this group's run without a kill, {unkilled:.2f} s), "
              f"digest matches; its part {at['lost']} stopped counting as running there {expired[-1]:.1f} s after the kill "
              f"(its lease ended) and ran again on another member from {reassigned[-1]:.1f} s; "
              f"part durations ms {[p[3] for p in parts_of(status)]}; parts run again (attempts, ms): {[(p[2], p[3]) for p in retried]}", flush=True)
        for n in group:
            n.remove()
            _nodes.remove(n)

    s, g, k = statistics.median(single), statistics.median(grouped), statistics.median(killed)
    print(f"load after: {read('/proc/loadavg').strip()}")
    print(f"RESULT one node: median {s:.2f} s {sorted(round(x, 2) for x in single)}")
    ratios = sorted(round(a / b, 2) for a, b in zip(single, grouped))
    print(f"RESULT group of 3: median {g:.2f} s {sorted(round(x, 2) for x in grouped)}; speed-up {s / g:.2f}x by the medians, "
          f"{statistics.median(ratios):.2f}x by the median of the runs' own ratios {ratios} (goal 2.7x)")
    paired = sorted(round(a - b, 2) for a, b in zip(killed, baselines))
    print(f"RESULT member killed: median {k:.2f} s {sorted(round(x, 2) for x in killed)}; extra {k - g:.2f} s over the group's median, "
          f"a median {statistics.median(paired):.2f} s {paired} over the same group's run without a kill, against a lease of {LEASE_MS / 1000:.1f} s; "
          f"the lost part's lease ended a median {statistics.median(expired):.1f} s after the kill {sorted(round(x, 1) for x in expired)}, "
          f"it ran again from a median {statistics.median(reassigned):.1f} s {sorted(round(x, 1) for x in reassigned)}")


def cleanup():
    for n in list(_nodes):
        n.remove()


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
