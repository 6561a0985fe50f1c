"""A real SMTP server for the interop tests: aiosmtpd on ADDRESS, with
submission on 587 (STARTTLS required before AUTH) and implicit TLS on 465,
AUTH PLAIN and LOGIN for the user `taro` with PASSWORD.

Usage: python3 aiosmtpd_server.py ADDRESS CERT KEY PASSWORD [PORT:MODE ...]

MODE is `starttls` (STARTTLS required before AUTH), `tls` (implicit TLS) or
`plain` (no TLS, no AUTH: a relay port 25); the default is `587:starttls
465:tls`. Prints `ready` once every port listens, and stops when its
standard input closes (the test that started it ends).
"""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

address, cert, key, password = sys.argv[1:5]
ports = sys.argv[5:] or ["587:starttls", "465:tls"]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"taro"
        and auth_data.password == password.encode()
    )
    return AuthResult(success=ok, handled=False)


class Accept:
    async def handle_RCPT(self, server, session, envelope, rcpt, options):
        envelope.rcpt_tos.append(rcpt)
        return "250 OK"


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
common = dict(
    hostname=address,
    authenticator=authenticator,
    server_hostname="smtp.aiosmtpd.test",
    ready_timeout=10,
)
modes = {
    "starttls": dict(tls_context=tls, require_starttls=True, auth_require_tls=True),
    "tls": dict(ssl_context=tls, auth_require_tls=False),
    "plain": dict(auth_require_tls=True),
}
controllers = []
for spec in ports:
    port, mode = spec.split(":")
    controller = Controller(Accept(), port=int(port), **modes[mode], **common)
    controller.start()
    controllers.append(controller)
print("ready", flush=True)
sys.stdin.read()
for controller in controllers:
    controller.stop()
