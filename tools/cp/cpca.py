# SPDX-License-Identifier: GPL-2.0
"""cpca - the reference control plane's own small CA (tools/cp/nanami-cp).

--ca-dir DIR holds ca.key (0600) and ca.crt, made on first use: an EC P-256
key and a self-signed CA certificate (10 years, pathlen 0). It signs

  - client certificates from the CSRs of enroll and renew-certificate:
    subject CN = node id, a DNS subjectAltName = node id when the id is a
    DNS name, clientAuth EKU, digitalSignature, the lifetime the operator
    chose (--cert-days, or --cert-lifetime-s for tests);
  - the listener's server certificate (server.crt / server.key) when no
    --tls-cert is given: serverAuth, SANs = the listen address, localhost,
    127.0.0.1, ::1 and every --server-name.

The CSR's own subject and extensions are ignored: the control plane decides
who the certificate names, the node only proves it holds the key.

OpenSSL through python3-cryptography (Debian's package), no shell-outs.
"""
import datetime
import ipaddress
import os
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_CSR = 16384
DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class BadCSR(Exception):
    """A CSR the CA refuses; the message says why."""


def _write(path, data, mode):
    """Atomic write: tmp, fsync, rename (the key must never be half there)."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _now():
    # Whole seconds: the certificate's validity is exactly the lifetime
    # asked for (X.509 times have no fractions).
    return datetime.datetime.utcnow().replace(microsecond=0)


def _serial():
    return x509.random_serial_number()


def _spki(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class CA:
    def __init__(self, ca_dir):
        self.dir = ca_dir
        os.makedirs(ca_dir, mode=0o700, exist_ok=True)
        kp, cp = os.path.join(ca_dir, "ca.key"), os.path.join(ca_dir, "ca.crt")
        if os.path.exists(kp) != os.path.exists(cp):
            raise SystemExit("nanami-cp: %s: ca.key and ca.crt must both exist or neither"
                             % ca_dir)
        if not os.path.exists(kp):
            self._create(kp, cp)
        with open(kp, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(cp, "rb") as f:
            self.cert_pem = f.read()
        self.cert = x509.load_pem_x509_certificate(self.cert_pem)
        if self.cert.public_key().public_numbers() != self.key.public_key().public_numbers():
            raise SystemExit("nanami-cp: %s: ca.crt does not match ca.key" % ca_dir)
        self.cert_path = cp

    def _create(self, kp, cp):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nanami-cp CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nanami reference cp")])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(_serial())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        _write(kp, key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()), 0o600)
        _write(cp, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def _leaf(self, cn, pubkey, lifetime_s, sans, eku):
        now = _now()
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(self.cert.subject).public_key(pubkey).serial_number(_serial())
             .not_valid_before(now).not_valid_after(now + datetime.timedelta(seconds=lifetime_s))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=isinstance(pubkey, rsa.RSAPublicKey),
                                          data_encipherment=False, key_agreement=False,
                                          key_cert_sign=False, crl_sign=False,
                                          encipher_only=False, decipher_only=False),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self.key.public_key()), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def sign_csr(self, pem, node_id, lifetime_s, old_cert_der=None):
        """A client certificate for node_id from the PEM CSR, or BadCSR.

        old_cert_der: the certificate in use (renewal), whose key the CSR
        must not reuse: identity-v1.md renews with a new key each time."""
        if not isinstance(pem, str) or not pem.strip():
            raise BadCSR("csr must be a non-empty PEM string")
        if len(pem) > MAX_CSR:
            raise BadCSR("csr is longer than %d bytes" % MAX_CSR)
        try:
            csr = x509.load_pem_x509_csr(pem.encode())
        except (ValueError, UnicodeEncodeError) as e:
            raise BadCSR("csr is not a PEM certificate signing request (%s)" % e)
        try:
            if not csr.is_signature_valid:
                raise BadCSR("csr signature does not verify (proof of possession)")
            pub = csr.public_key()
        except UnsupportedAlgorithm as e:
            raise BadCSR("csr key algorithm not supported (%s)" % e)
        if isinstance(pub, ec.EllipticCurvePublicKey):
            if pub.curve.name not in ("secp256r1", "secp384r1"):
                raise BadCSR("csr EC curve %s not allowed (P-256 or P-384)" % pub.curve.name)
        elif isinstance(pub, rsa.RSAPublicKey):
            if pub.key_size < 2048:
                raise BadCSR("csr RSA key of %d bits is too small (2048 at least)" % pub.key_size)
        elif not isinstance(pub, ed25519.Ed25519PublicKey):
            raise BadCSR("csr key type %s not allowed (EC P-256/P-384, RSA, Ed25519)"
                         % type(pub).__name__)
        if old_cert_der is not None and _spki(pub) == _spki(
                x509.load_der_x509_certificate(old_cert_der).public_key()):
            raise BadCSR("csr reuses the key of the certificate in use (renew with a new key)")
        sans = [x509.DNSName(node_id)] if DNS_NAME.match(node_id) else []
        cert = self._leaf(node_id, pub, lifetime_s, sans, ExtendedKeyUsageOID.CLIENT_AUTH)
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def server_cert(self, names):
        """Issue server.crt / server.key in the CA dir for these names."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans, seen = [], set()
        for n in names:
            if n in seen:
                continue
            seen.add(n)
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        cert = self._leaf("nanami-cp", key.public_key(), 365 * 86400, sans,
                          ExtendedKeyUsageOID.SERVER_AUTH)
        kp, cp = os.path.join(self.dir, "server.key"), os.path.join(self.dir, "server.crt")
        _write(kp, key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()), 0o600)
        _write(cp, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cp, kp
