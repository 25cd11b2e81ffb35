"""A throwaway certificate authority for ``FakeBinance(tls=True)`` (needs ``cryptography``).

At start the fake makes a CA and a server certificate for ``127.0.0.1``, ``::1`` and
``localhost``, valid for a day, in a private temporary directory that :meth:`TlsFiles.cleanup`
removes.  ``ca_file`` is what a client trusts (``with_ca_bundle(fake.ca_file)``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from typing import Any, List, Optional, Sequence

__all__ = ["TlsFiles", "make_tls_files"]

DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")


class TlsFiles:
    """PEM files of one throwaway CA and the server certificate it signed."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.ca_file = os.path.join(folder, "ca.pem")
        self.cert_file = os.path.join(folder, "server.pem")
        self.key_file = os.path.join(folder, "server.key")

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        # No TLS 1.3 session tickets: sent after the handshake, they are read by a client's receiving
        # thread while another thread writes its request on the same SSL object; about 1 handshake in
        # 100 then failed (measured with the websockets sync client). Nothing here resumes sessions.
        ctx.num_tickets = 0
        return ctx

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def make_tls_files(hosts: Sequence[str] = DEFAULT_HOSTS, folder: Optional[str] = None) -> TlsFiles:
    """Generate a CA and a server certificate for ``hosts`` (DNS names or IP addresses) as PEM files."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover - cryptography is in the 'testing' extra
        raise RuntimeError("FakeBinance(tls=True) needs the cryptography package "
                           "(pip install 'binance_conn[testing]')") from exc

    def name(text: str) -> Any:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("binance_conn FakeBinance throwaway CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt: List[Any] = []
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder().subject_name(name(hosts[0])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(folder or tempfile.mkdtemp(prefix="fake-binance-tls-"))
    with open(files.ca_file, "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(files.cert_file, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(files.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return files
