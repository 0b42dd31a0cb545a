"""Reaches into a network namespace that a LAN test made; run there by `ip netns exec`.

  get URL                 GET a node's API over the namespace's loopback; prints the body (exit 1 on no answer)
  browse BIND_IP SECONDS  browses _tenzro._tcp.local with python3-zeroconf (an independent DNS-SD implementation)
                          bound to BIND_IP; prints {instance name: {TXT key: value}} as JSON
  send BIND_IP KIND       multicasts one bad packet to 224.0.0.251:5353 from BIND_IP: forged (a TXT whose sig
                          does not verify), malformed (not a DNS message) or oversized (9,500 bytes)
"""
import hashlib, json, os, socket, struct, sys, time, urllib.request


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            print(r.read().decode())
    except Exception as e:
        print(e, file=sys.stderr)
        sys.exit(1)


def browse(bind_ip, seconds):
    from zeroconf import ServiceBrowser, Zeroconf
    zc = Zeroconf(interfaces=[bind_ip])
    names = []

    class Listener:
        def add_service(self, zc, t, name): names.append(name)
        def update_service(self, *a): pass
        def remove_service(self, *a): pass

    ServiceBrowser(zc, "_tenzro._tcp.local.", Listener())
    time.sleep(seconds)
    found = {}
    for name in names:
        info = zc.get_service_info("_tenzro._tcp.local.", name, timeout=3000)
        if info is not None:
            found[name] = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
            found[name]["port"] = str(info.port)
    zc.close()
    print(json.dumps(found))


def name(n):
    return b"".join(bytes([len(label)]) + label.encode() for label in n.split(".")) + b"\0"


def record(n, rtype, ttl, data):
    return name(n) + struct.pack(">HHIH", rtype, 1, ttl, len(data)) + data


def forged():
    key = os.urandom(32)
    node_id = hashlib.sha256(key).hexdigest()
    label = "tenzro-" + node_id[:16]
    instance, host = label + "._tenzro._tcp.local", label + ".local"
    import base64
    strings = [f"id={node_id}", "pk=" + base64.b64encode(key).decode(), "tier=inference", "v=1.0", "seq=1",
               "exp=2099-01-01T00:00:00.000Z", "sig=" + base64.b64encode(os.urandom(64)).decode()]
    txt = b"".join(bytes([len(s)]) + s.encode() for s in strings)
    records = [record("_tenzro._tcp.local", 12, 6, name(instance)),
               record(instance, 33, 6, struct.pack(">HHH", 0, 0, 8081) + name(host)),
               record(instance, 16, 6, txt),
               record(host, 1, 6, socket.inet_aton("10.77.0.99"))]
    print(node_id)
    return struct.pack(">6H", 0, 0x8400, 0, len(records), 0, 0) + b"".join(records)


def send(bind_ip, kind):
    packet = {"forged": forged, "malformed": lambda: b"\x00\x00\x84\x00\x00\x00\xff\xff\x00\x00\x00\x00\x07garbage",
              "oversized": lambda: b"\x00" * 9500}[kind]()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(bind_ip))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.bind((bind_ip, 0))
    s.sendto(packet, ("224.0.0.251", 5353))
    s.close()


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "get":
        get(sys.argv[2])
    elif command == "browse":
        browse(sys.argv[2], float(sys.argv[3]))
    elif command == "send":
        send(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
