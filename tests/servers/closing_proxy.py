"""A stand-in for an antivirus mail scanner that cannot read TLS: it takes
each connection on ADDRESS:PORT, reads what the client sends first (a TLS
ClientHello) and closes without a word.

Usage: python3 closing_proxy.py ADDRESS PORT

Prints `ready` once it listens; stops when its standard input closes.
"""
import socket
import sys
import threading

address, port = sys.argv[1], int(sys.argv[2])
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((address, port))
listener.listen(16)


def serve():
    while True:
        client, _ = listener.accept()
        client.settimeout(30)
        try:
            client.recv(4096)
        except OSError:
            pass
        client.close()


threading.Thread(target=serve, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
