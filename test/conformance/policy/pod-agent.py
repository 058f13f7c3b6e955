#!/usr/bin/env python3
"""A test pod: TCP and UDP listeners on the given ports (dual-stack: one
socket on :: serves IPv4 and IPv6), and a prober driven by JSON lines on stdin
({"id", "proto": TCP|UDP|ICMP, "ip", "port", "timeout", "src"?}), answering
{"id", "result"} lines on stdout with result connected | refused | timeout |
error:<text>. One process per pod network namespace, so hundreds of probes
cost no process spawns. Runs until stdin closes."""
import json
import os
import select
import socket
import struct
import sys
import threading
import time

out_lock = threading.Lock()


def listener(kind, port):
    """A socket on :: that also takes IPv4 (IPV6_V6ONLY off), or 0.0.0.0 without IPv6."""
    try:
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
    except OSError:
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
    return s


def tcp_server(port):
    s = listener(socket.SOCK_STREAM, port)
    s.listen(256)
    while True:
        c, _ = s.accept()
        c.close()


def udp_server(port):
    s = listener(socket.SOCK_DGRAM, port)
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(data, addr)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(ip, timeout, src):
    """One ICMP (IPv4) or ICMPv6 echo request on a raw socket; True on the matching reply."""
    v6 = ":" in ip
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    try:
        if src:
            s.bind((src, 0))
        ident = (os.getpid() ^ threading.get_ident() ^ int(time.monotonic_ns())) & 0xFFFF
        req_type, reply_type = (128, 129) if v6 else (8, 0)
        body = struct.pack("!BBHHH", req_type, 0, 0, ident, 1) + b"trellis"
        if not v6:  # the kernel fills the ICMPv6 checksum (RFC 3542 §3.1)
            body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
        s.sendto(body, (ip, 0))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return False
            data, _ = s.recvfrom(2048)
            if not v6:
                data = data[(data[0] & 0x0F) * 4 :]
            if len(data) >= 8 and data[0] == reply_type and struct.unpack("!H", data[4:6])[0] == ident:
                return True
    finally:
        s.close()


def probe(req):
    proto, ip, port, timeout = req["proto"], req["ip"], int(req["port"]), float(req.get("timeout", 1.0))
    src = req.get("src")
    try:
        if proto == "ICMP":
            if not ping(ip, timeout, src):
                raise socket.timeout()
        elif proto == "TCP":
            c = socket.create_connection((ip, port), timeout=timeout, source_address=(src, 0) if src else None)
            c.close()
        else:
            c = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
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
