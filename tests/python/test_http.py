"""The HTTP/Connect port of a real kessand, with the standard library only.

Starts kessand on free ports of 127.0.0.1 (gRPC and --http_listen) over an
empty temporary --data_dir seeded with the IIJ data set, makes the README's
curl call with urllib, and stops kessand. Environment (tests/python/
CMakeLists.txt): KESSAN_KESSAND (skipped if unset), KESSAN_SEED_DATASET.
"""

import json
import os
import pathlib
import queue
import subprocess
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

_REPO = pathlib.Path(__file__).resolve().parents[2]
_KESSAND = os.environ.get("KESSAN_KESSAND")
_SEED = os.environ.get("KESSAN_SEED_DATASET", str(_REPO / "data" / "iij" / "iij_4q02_fy2002.txtpb"))
_START_TIMEOUT = 60.0  # seconds for kessand to load the seed and serve
_WAIT = 30.0  # seconds: bound on any one request


def _post(port, method, body, content_type="application/json"):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{method}", data=body.encode(), method="POST",
        headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=_WAIT) as response:
            return response.status, response.headers.get("content-type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type"), error.read().decode()


@unittest.skipUnless(_KESSAND, "KESSAN_KESSAND is not set")
class HttpTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="kessan_http_py_")
        self.process = subprocess.Popen(
            [_KESSAND, "--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
             "--data_dir", self.dir.name, "--seed", _SEED, "--plugin_dir", "none"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()

        def read():
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        self.port = 0
        while not self.port:
            line = lines.get(timeout=_START_TIMEOUT)
            self.assertIsNotNone(line, "kessand exited before serving")
            if line.startswith("kessand HTTP on port "):
                self.port = int(line.split()[-1])

    def tearDown(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.dir.cleanup()

    def test_readme_curl_call(self):
        # curl -d '{}' -H 'content-type: application/json' http://127.0.0.1:8080/kessan.v1.FeedService/GetSnapshot
        status, content_type, body = _post(self.port, "kessan.v1.FeedService/GetSnapshot", "{}")
        self.assertEqual(status, 200, body)
        self.assertEqual(content_type, "application/json")
        snapshot = json.loads(body)
        self.assertGreater(len(snapshot["events"]), 0)
        self.assertEqual(int(snapshot["sequence"]), len(snapshot["events"]))
        revenue = [e["fact"] for e in snapshot["events"]
                   if "fact" in e and e["fact"]["key"]["conceptId"] == "revenue"
                   and e["fact"]["key"]["period"].get("fiscalYear") == 2002
                   and e["fact"]["key"]["period"].get("kind") == "PERIOD_KIND_QUARTER"
                   and e["fact"]["key"]["period"].get("number") == 4
                   and "segment" not in e["fact"]["key"] and "comparisonPeriod" not in e["fact"]["key"]]
        self.assertEqual(len(revenue), 1)
        self.assertEqual(revenue[0]["value"]["money"], {"currencyCode": "JPY", "units": "13000000000"})

    def test_errors_are_connect_json(self):
        status, content_type, body = _post(self.port, "kessan.v1.FeedService/GetSnapshot", '{"filtr": {}}')
        self.assertEqual(status, 400)
        self.assertEqual(content_type, "application/json")
        error = json.loads(body)
        self.assertEqual(error["code"], "invalid_argument")
        self.assertIn("filtr", error["message"])
        status, _, body = _post(self.port, "kessan.v1.FeedService/Nope", "{}")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["code"], "unimplemented")


if __name__ == "__main__":
    unittest.main()
