"""Free loopback ports for the benchmarks' node processes: each free for TCP and UDP alike (a node's peer links and
its DHT share one number) and never handed out twice in one run."""
import socket

_given = set()


def free_port():
    while True:
        t, u = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port not in _given:
                u.bind(("127.0.0.1", port))
                _given.add(port)
                return port
        except OSError:
            pass
        finally:
            t.close(); u.close()
