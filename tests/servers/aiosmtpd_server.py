"""A real SMTP server for the interop tests: aiosmtpd on ADDRESS, with
submission on 587 (STARTTLS required before AUTH) and implicit TLS on 465,
AUTH PLAIN and LOGIN for the user `taro` with PASSWORD.

Usage: python3 aiosmtpd_server.py ADDRESS CERT KEY PASSWORD

Prints `ready` once both ports listen, and stops when its standard input
closes (the test that started it ends).
"""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

address, cert, key, password = sys.argv[1:5]


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
submission = Controller(
    Accept(), port=587, tls_context=tls, require_starttls=True, auth_require_tls=True, **common
)
implicit = Controller(Accept(), port=465, ssl_context=tls, auth_require_tls=False, **common)
submission.start()
implicit.start()
print("ready", flush=True)
sys.stdin.read()
submission.stop()
implicit.stop()
