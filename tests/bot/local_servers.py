"""Small local HTTP and HTTPS servers for the download tests: each records the requests it receives, and the HTTPS
one presents a certificate for `localhost` made here, which a client trusts through `client_ssl_context()`."""

import datetime
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    scheme: str
    path: str
    authorization: str | None


@dataclass
class LocalServer:
    """Answers every GET with `handler`, recording each request first."""

    handler: Handler
    ssl_context: ssl.SSLContext | None = None
    hits: list[Hit] = field(default_factory=list)
    port: int = 0

    async def __aenter__(self) -> "LocalServer":
        async def record(request: web.Request) -> web.StreamResponse:
            scheme = "https" if self.ssl_context else "http"
            self.hits.append(Hit(scheme, request.path, request.headers.get("Authorization")))
            return await self.handler(request)

        app = web.Application()
        app.router.add_get("/{tail:.*}", record)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def url(self, path: str, host: str = "localhost") -> str:
        return f"{'https' if self.ssl_context else 'http'}://{host}:{self.port}{path}"


@dataclass(frozen=True)
class TestCertificate:
    server: ssl.SSLContext
    client: ssl.SSLContext


def localhost_certificate() -> TestCertificate:
    """A self-signed certificate for `localhost`: the server's context presents it, the client's trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(pem)
        key_path.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=pem.decode())
    return TestCertificate(server, client)
