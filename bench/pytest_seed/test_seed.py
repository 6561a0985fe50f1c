"""The seed's three cases tested the way a Python project would: pytest, a real
aiosmtpd server, smtplib and real sockets in real time. bench/peers.py times
this file against `mailprobe run scenarios/seed/`, which checks the same
three situations (and names their causes) in virtual time.
"""

import os
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@pytest.fixture(scope="session")
def certificate():
    folder = tempfile.mkdtemp(prefix="mailprobe-pytest-")
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"hunter2"
    return AuthResult(success=ok)


def test_starttls_and_auth_send(certificate):
    """A real send: STARTTLS, AUTH PLAIN, one message (the seed's fix)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Collect()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticate,
                            auth_require_tls=True)
    controller.start()
    try:
        client_context = ssl.create_default_context(cafile=cert)
        client_context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.starttls(context=client_context)
            smtp.login("taro", "hunter2")
            smtp.sendmail("taro@example.test", ["hanako@example.test"], b"Subject: hi\r\n\r\nhello\r\n")
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_port_that_never_answers_times_out():
    """Port 25 dropped by the ISP, as close as loopback gets: the connection
    is taken and nothing is ever said. The client gives up after its 30 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    with pytest.raises((socket.timeout, TimeoutError, smtplib.SMTPServerDisconnected)):
        smtplib.SMTP("127.0.0.1", listener.getsockname()[1], timeout=30)
    listener.close()


def test_plaintext_proxy_on_implicit_tls_port():
    """A scanner's plaintext proxy on 465: the TLS client gets a 220 line
    instead of a ServerHello."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer():
        connection, _ = listener.accept()
        connection.sendall(b"220 proxy.local ESMTP scanner\r\n")
        connection.recv(4096)
        connection.close()

    threading.Thread(target=answer, daemon=True).start()
    context = ssl.create_default_context()
    with pytest.raises(ssl.SSLError):
        smtplib.SMTP_SSL("127.0.0.1", listener.getsockname()[1], timeout=30, context=context)
    listener.close()
