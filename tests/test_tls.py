"""TLS for the LAN demo: which addresses phones get, and a self-signed certificate that names them all and
is made again when they change. Interfaces are given to the functions; nothing is sent anywhere."""

from __future__ import annotations

import ipaddress
import socket

from cryptography import x509

from server.tls import certificate_names, interface_addresses, lan_addresses, self_signed, ssl_context
from tests.conftest import fast_settings

HOME = [
    ("lo", "127.0.0.1"),
    ("wlan0", "192.168.1.23"),
    ("docker0", "172.17.0.1"),
    ("br-3f2a9c1d7e60", "172.18.0.1"),
    ("eth0", "10.0.0.7"),
    ("eth1", "169.254.10.2"),
]


def san(cert_path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(names.get_values_for_type(x509.DNSName)), {str(ip) for ip in names.get_values_for_type(x509.IPAddress)})


def test_phones_get_the_lan_addresses_without_loopback_link_local_or_container_bridges():
    assert lan_addresses("0.0.0.0", HOME) == ["192.168.1.23", "10.0.0.7"]
    assert lan_addresses("::", [("lo", "127.0.0.1"), ("docker0", "172.17.0.1")]) == ["172.17.0.1"]  # all there is
    assert lan_addresses("0.0.0.0", [("br0", "192.168.0.9")]) == ["192.168.0.9"]  # a bridge someone named
    assert lan_addresses("192.168.1.23", HOME) == ["192.168.1.23"]
    assert lan_addresses("127.0.0.1", HOME) == []


def test_the_machine_interfaces_are_read_not_contacted():
    for name, address in interface_addresses():
        assert name and ipaddress.IPv4Address(address)


def test_the_certificate_names_every_address_and_is_remade_when_they_change(tmp_path):
    folder = tmp_path / "tls"
    cert, key = self_signed(folder, certificate_names("0.0.0.0", HOME))
    dns, ips = san(cert)
    assert {"localhost", socket.gethostname()} <= dns
    assert ips == {"127.0.0.1", "192.168.1.23", "10.0.0.7", "172.17.0.1", "172.18.0.1"}
    assert key.stat().st_mode & 0o777 == 0o600
    made = cert.read_bytes()
    assert self_signed(folder, certificate_names("0.0.0.0", HOME))[0].read_bytes() == made  # same names: kept

    moved = [("lo", "127.0.0.1"), ("wlan0", "192.168.43.5")]  # another Wi-Fi
    cert, _ = self_signed(folder, certificate_names("0.0.0.0", moved))
    assert cert.read_bytes() != made
    assert san(cert)[1] == {"127.0.0.1", "192.168.43.5"}


def test_ssl_context_serves_the_self_signed_certificate_for_the_host(tmp_path, redis_url, prefix):
    settings = fast_settings(tmp_path, redis_url, prefix, host="192.168.1.23", tls_self_signed=True)
    assert ssl_context(settings, interfaces=HOME) is not None
    assert "192.168.1.23" in san(settings.data_dir / "tls" / "selfsigned.crt")[1]
    assert ssl_context(fast_settings(tmp_path, redis_url, prefix)) is None
