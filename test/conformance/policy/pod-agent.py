#!/usr/bin/env python3
"""A test pod: TCP and UDP listeners on the given ports, and a prober driven
by JSON lines on stdin ({"id", "proto", "ip", "port", "timeout"}), answering
{"id", "result"} lines on stdout with result connected | refused | timeout |
error:<text>. One process per pod network namespace, so hundreds of probes
cost no process spawns. Runs until stdin closes."""
import json
import socket
import sys
import threading

out_lock = threading.Lock()


def tcp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(256)
    while True:
        c, _ = s.accept()
        c.close()


def udp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(data, addr)


def probe(req):
    proto, ip, port, timeout = req["proto"], req["ip"], int(req["port"]), float(req.get("timeout", 1.0))
    src = req.get("src")
    try:
        if proto == "TCP":
            c = socket.create_connection((ip, port), timeout=timeout, source_address=(src, 0) if src else None)
            c.close()
        else:
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(timeout)
            if src:
                c.bind((src, 0))
            c.connect((ip, port))
            c.send(b"ping")
            c.recv(2048)
            c.close()
        result = "connected"
    except ConnectionRefusedError:
        result = "refused"
    except (socket.timeout, TimeoutError):
        result = "timeout"
    except OSError as e:
        result = "error:" + (e.strerror or str(e))
    with out_lock:
        sys.stdout.write(json.dumps({"id": req["id"], "result": result}) + "\n")
        sys.stdout.flush()


def main():
    ports = [int(p) for p in sys.argv[1:]] or [80, 81]
    for p in ports:
        threading.Thread(target=tcp_server, args=(p,), daemon=True).start()
        threading.Thread(target=udp_server, args=(p,), daemon=True).start()
    with out_lock:
        sys.stdout.write(json.dumps({"ready": True}) + "\n")
        sys.stdout.flush()
    for line in sys.stdin:
        line = line.strip()
        if line:
            threading.Thread(target=probe, args=(json.loads(line),), daemon=True).start()


if __name__ == "__main__":
    main()
