"""HTTPS for the emulator: a local CA and a server certificate for localhost and 127.0.0.1, made at start.

`dms-rocketmq-emulator --tls` serves https:// with a certificate issued by a CA of its own, kept in a
folder (`--tls-dir`, reused across restarts so that a client keeps trusting it); the banner names the CA
file for the client (`SSL_CERT_FILE=...`). `issue` makes other certificates (expired, for another host) for
the tests of what a client says when a certificate is wrong. Keys are ECDSA P-256: quick to make and to
handshake with. Needs the `cryptography` package (the `emulator` extra).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["CA_FILE", "TLSFiles", "issue", "local_ca", "server_files"]

#: The names of the files in a TLS folder.
CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE = "ca.pem", "ca-key.pem", "server.pem", "server-key.pem"
#: The hosts the server certificate names: how a client on this machine reaches the emulator.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class TLSFiles(NamedTuple):
    """The PEM files of an HTTPS emulator: the CA a client trusts, and the server's certificate and key."""

    ca: Path
    cert: Path
    key: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    # The key is readable by its owner only, from its creation on.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def local_ca(directory: Path) -> tuple[Path, Path]:
    """The CA certificate and key in `directory`, made when the folder has none (kept: clients trust it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if ca_path.is_file() and key_path.is_file():
        return ca_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dms-rocketmq-emulator local CA")])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    ca_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return ca_path, key_path


def issue(
    ca: tuple[Path, Path],
    cert_path: Path,
    key_path: Path,
    *,
    hosts: Sequence[str] = LOCAL_HOSTS,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> None:
    """Write a server certificate for `hosts` (names or IP addresses) signed by the CA `ca` (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_certificate = x509.load_pem_x509_certificate(ca[0].read_bytes())
    ca_key = serialization.load_pem_private_key(ca[1].read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(hours=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_files(directory: Path) -> TLSFiles:
    """The CA of `directory` (made if missing) and a new certificate for this machine's names, signed by it."""
    ca = local_ca(directory)
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    issue(ca, cert, key)
    return TLSFiles(ca[0], cert, key)
