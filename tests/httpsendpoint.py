"""A local HTTPS endpoint for SNS subscriptions in tests: its own CA, a server
certificate for 127.0.0.1, and the requests it received.

The local cloud trusts the CA once its PEM is in ``{state_dir}/trusted-ca/``
(``endpoint.trust(state_dir)``), as SNS trusts public CAs; an endpoint whose CA is not
there fails the TLS handshake, as a self-signed endpoint does with SNS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message_type(self) -> str:
        return self.headers.get("x-amz-sns-message-type", "")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) for 127.0.0.1, signed by a fresh CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("ceap-test-ca"))
        .issuer_name(_name("ceap-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
    )
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(server.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


@dataclass
class HttpsEndpoint:
    """``with HttpsEndpoint() as ep: ep.url, ep.received, ep.trust(state_dir)``.
    ``status`` is the HTTP status it answers (500 makes SNS retry)."""

    status: int = 200
    confirm: bool = False  # visit SubscribeURL of a SubscriptionConfirmation itself
    received: list[Received] = field(default_factory=list)
    handshake_failures: int = 0

    def __enter__(self) -> HttpsEndpoint:
        self._dir = tempfile.TemporaryDirectory(prefix="ceap-https-")
        self.ca_path, cert, key = _certificates(Path(self._dir.name))
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.received.append(Received(self.path, headers, body))
                if (
                    endpoint.confirm
                    and headers.get("x-amz-sns-message-type") == "SubscriptionConfirmation"
                ):
                    urllib.request.urlopen(json.loads(body)["SubscribeURL"], timeout=10).read()
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                try:
                    return super().get_request()
                except ssl.SSLError:  # an untrusting client aborts the handshake
                    endpoint.handshake_failures += 1
                    raise

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/sns"

    def trust(self, state_dir: Path, name: str = "test") -> Path:
        """Make the local cloud of ``state_dir`` trust this endpoint's CA."""
        trusted = state_dir / "trusted-ca"
        trusted.mkdir(parents=True, exist_ok=True)
        path = trusted / f"{name}-{self._server.server_address[1]}.pem"
        path.write_bytes(self.ca_path.read_bytes())
        return path

    def of_type(self, message_type: str) -> list[Received]:
        return [r for r in list(self.received) if r.message_type == message_type]
