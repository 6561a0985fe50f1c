#!/usr/bin/env python3
"""Prints the resident memory of `mailprobe serve` as connections go by.

Usage: python3 bench/serve_rss.py [CONNECTIONS] (default 100000)

Starts `target/release/mailprobe serve` on a one-host world on 127.0.0.1,
then opens CONNECTIONS connections one after another (read the greeting,
QUIT, read the goodbye) and prints the server's VmRSS every tenth of the way.
Only loopback is used; the server stops by itself after ten minutes.
"""
import os
import socket
import subprocess
import sys
import tempfile

WORLD = """name: served for the RSS benchmark
world:
  hosts:
    mx.bench.example:
      smtp: { ports: { 25: plain } }
client:
  smtp: { host: mx.bench.example, port: 25 }
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "mailprobe")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as world:
        world.write(WORLD)
    server = subprocess.Popen([binary, "serve", world.name, "--for", "600s"],
                              stdout=subprocess.PIPE, text=True)
    port = None
    for line in server.stdout:
        if line.startswith("serving"):
            break
        port = int(line.rsplit(":", 1)[1])
    print(f"connections  VmRSS (KiB)")
    print(f"{0:>11}  {rss_kib(server.pid):>11}")
    step = max(total // 10, 1)
    try:
        for n in range(1, total + 1):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.settimeout(10)
                client.recv(512)
                client.sendall(b"QUIT\r\n")
                client.recv(512)
            if n % step == 0:
                print(f"{n:>11}  {rss_kib(server.pid):>11}", flush=True)
    finally:
        server.kill()
        server.wait()
        os.unlink(world.name)


if __name__ == "__main__":
    main()
