"""A throw-away certificate authority and a server certificate it signed, for HTTPS tests.

(Not `trustme`: Sanic imports it when installed, which would cost every gateway worker the
memory of `cryptography`; `cryptography` itself is already here, for google-auth.)
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    signer: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(signer, hashes.SHA256())


class CertificateAuthority:
    """`server_context(host)` serves a certificate for `host`; `trust(context)` makes a client trust it."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._certificate = _certificate("Calcifer test CA", self._key, None, self._key)

    def write_pem(self, file: Path) -> Path:
        """The authority's certificate, as a CA bundle file."""
        file.write_bytes(self._certificate.public_bytes(serialization.Encoding.PEM))
        return file

    def trust(self, context: ssl.SSLContext) -> None:
        context.load_verify_locations(
            cadata=self._certificate.public_bytes(serialization.Encoding.PEM).decode()
        )

    def server_context(self, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate(host, key, self._certificate.subject, self._key)
        chain = self._workdir / f"{host}.pem"
        chain.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + certificate.public_bytes(serialization.Encoding.PEM)
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain)
        return context
