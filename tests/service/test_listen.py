"""Where jls listens: https and wss with a certificate, a Unix socket, and the printed URL."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import socket
import stat
import subprocess
import sys

import pytest
from jls_client import Api, isolated_env, run_jls, start_server_in, stream_text


def self_signed(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, made here with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jls test")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return certfile, keyfile


def test_tls_serves_https_and_wss(tmp_path):
    certfile, keyfile = self_signed(tmp_path)
    srv = start_server_in(tmp_path, "--certfile", certfile, "--keyfile", keyfile)
    try:
        assert srv.url.startswith("https://")
        api = Api(srv.url, srv.token, ca_file=certfile)
        assert api.get("api/status").status_code == 200
        kernel = api.start_kernel()
        channel = api.channels(kernel["id"])  # wss://, the same certificate
        assert stream_text(channel.execute("print(6 * 7)")[1]) == "42\n"
        channel.close()
        api.delete(f"api/kernels/{kernel['id']}")
        import requests

        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(srv.url.replace("https://", "http://") + "api/status", timeout=5)
    finally:
        srv.stop()


def test_a_broken_certificate_is_one_clear_line_and_exit_1(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    result = run_jls(
        "serve", "--port", "0", "--root", str(tmp_path), "--certfile", str(bogus),
        env=isolated_env(str(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 1
    assert "Cannot listen: cannot use the TLS certificate or key" in result.stderr
    assert "Traceback" not in result.stderr


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def test_a_unix_socket_serves_the_api_to_its_owner_only(tmp_path):
    path = str(tmp_path / "jls.sock")
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_lite_server", "serve", "--sock", path,
         "--token", "T", "--root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=isolated_env(str(tmp_path)),
    )  # fmt: skip
    try:
        line = proc.stdout.readline() + proc.stdout.readline()
        assert "http+unix://" in line and "?token=..." in line, line
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        connection = UnixConnection(path)
        connection.request("GET", "/api/status", headers={"Authorization": "token T"})
        answer = connection.getresponse()
        assert answer.status == 200 and "kernels" in json.loads(answer.read())
        connection.request("GET", "/api/status")
        assert connection.getresponse().status == 403
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert not os.path.exists(path) or not _answers(path)


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def test_sock_and_port_together_are_refused(tmp_path):
    result = run_jls(
        "serve", "--sock", str(tmp_path / "s"), "--port", "9999", "--root", str(tmp_path),
        env=isolated_env(str(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 1
    assert "--sock and --port exclude each other" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_generated_token_is_printed_in_full(tmp_path):
    root = tmp_path / "b" / "root"
    root.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_lite_server", "serve", "--port", "0", "--root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=isolated_env(str(tmp_path / "b")),
    )  # fmt: skip
    try:
        url = proc.stdout.readline() + proc.stdout.readline()
        token = url.strip().rsplit("?token=", 1)[1]
        assert len(token) == 48 and token != "..."
    finally:
        proc.terminate()
        proc.wait(30)


def test_printed_url_hides_a_chosen_token(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_lite_server", "serve", "--port", "0", "--root", str(root),
         "--token", "chosen-by-me"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=isolated_env(str(tmp_path)),
    )  # fmt: skip
    try:
        printed = proc.stdout.readline() + proc.stdout.readline()
        assert "?token=..." in printed and "chosen-by-me" not in printed
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "chosen-by-me" not in err


def test_client_ca_requires_a_client_certificate(tmp_path):
    """Mutual TLS: with --client-ca, only clients presenting a certificate it signed get in."""
    import requests

    certfile, keyfile = self_signed(tmp_path)  # the server's, and the CA the clients need
    srv = start_server_in(
        tmp_path, "--certfile", certfile, "--keyfile", keyfile, "--client-ca", certfile
    )
    try:
        headers = {"Authorization": f"token {srv.token}"}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(srv.url + "api/status", headers=headers, verify=certfile, timeout=10)
        answer = requests.get(
            srv.url + "api/status", headers=headers, verify=certfile, timeout=10,
            cert=(certfile, keyfile),
        )  # fmt: skip
        assert answer.status_code == 200
    finally:
        srv.stop()
