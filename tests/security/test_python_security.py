"""kessand with TLS and tokens, through the Python client and the kessan CLI.

Starts a real kessand (TLS, a principals file) on 127.0.0.1 with
certificates made by deploy/tls/make-certs.sh in a temporary directory.
Environment (set by tests/security/CMakeLists.txt): KESSAN_KESSAND,
KESSAN_CLI, KESSAN_SEED_DATASET, KESSAN_MAKE_CERTS, KESSAN_PY_GEN,
PYTHONPATH (clients/python).
"""

import hashlib
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc

from kessan_client import Client

_WAIT = 30.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _line(name, roles, token, extra=""):
    digest = hashlib.sha256(token.encode()).hexdigest()
    return f"{name} {roles} sha256:{digest} {extra}\n"


class SecureKessandTest(unittest.TestCase):
    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kessan_pysec_"))
        self.certs = self.dir / "tls"
        subprocess.run([os.environ["KESSAN_MAKE_CERTS"], str(self.certs), "reader"],
                       check=True, stdout=subprocess.DEVNULL)
        self.principals = self.dir / "principals"
        self.principals.write_text(
            _line("reader", "subscriber", "reader-token", "issuers=IIJ") +
            _line("feeder", "publisher", "feeder-token"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [os.environ["KESSAN_KESSAND"], "--listen", self.address,
             "--data_dir", str(self.dir / "data"),
             "--seed", os.environ["KESSAN_SEED_DATASET"], "--plugin_dir", "none",
             "--tls_cert", str(self.certs / "server.pem"),
             "--tls_key", str(self.certs / "server.key"),
             "--auth_tokens", str(self.principals)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # kessand logs to stdout too; wait for the line scripts can wait for.
        line = "-"
        while line and "listening on port" not in line:
            line = self.proc.stdout.readline()
        self.assertIn("listening on port", line)
        # Keep reading, so kessand's log writes neither block nor break.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def tearDown(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)

    def client(self, token=None):
        return Client(self.address, tls_ca=str(self.certs / "ca.pem"), token=token,
                      timeout=_WAIT)

    def test_tls_token_roles_and_entitlements(self):
        with self.client("reader-token") as c:
            snapshot = c.snapshot()
            self.assertGreater(len(snapshot.events), 0)
            self.assertEqual({e.fact.key.issuer for e in snapshot.events
                              if e.WhichOneof("body") == "fact"}, {"IIJ"})
            with self.assertRaises(grpc.RpcError) as e:
                c.publish([])
            self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
            with self.assertRaises(grpc.RpcError) as e:
                c.snapshot(issuers=["ACME"])
            self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        with self.client() as c:
            with self.assertRaises(grpc.RpcError) as e:
                c.snapshot()
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with Client(self.address, timeout=5.0) as plain:  # plaintext to a TLS port
            with self.assertRaises(grpc.RpcError) as e:
                plain.snapshot()
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_sighup_reloads_the_principals(self):
        with self.client("reader-token") as c:
            c.snapshot()
            self.principals.write_text(_line("feeder", "publisher", "feeder-token"))
            self.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + _WAIT
            code = None
            while time.monotonic() < deadline:
                try:
                    c.snapshot()
                except grpc.RpcError as e:
                    code = e.code()
                    break
                time.sleep(0.05)
            self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED)

    def test_cli_with_tls_and_token(self):
        cli = os.environ["KESSAN_CLI"]
        common = ["--server", self.address, "--tls_ca", str(self.certs / "ca.pem")]
        ok = subprocess.run([cli, *common, "--token", "reader-token", "snapshot",
                             "--concept", "revenue"],
                            capture_output=True, text=True, timeout=_WAIT)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("revenue", ok.stdout)
        env = dict(os.environ, KESSAN_TOKEN="not-a-token")
        refused = subprocess.run([cli, *common, "snapshot"], capture_output=True,
                                 text=True, timeout=_WAIT, env=env)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("UNAUTHENTICATED", refused.stderr)


if __name__ == "__main__":
    unittest.main()
