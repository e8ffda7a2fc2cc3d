#!/usr/bin/python3
"""Open HTTP/Connect Subscribe streams on a real kessand and measure what
they hold: kessand's threads and resident memory before and after.

  tests/bench/http_streams.py build/server/kessand [streams=500] [seed]

Starts kessand on free ports of 127.0.0.1 over a temporary data dir seeded
with the IIJ data set, opens the streams (live only) with raw sockets, reads
each one's response head (written when its stream starts), then publishes
one event over HTTP and checks that every stream receives it. Standard
library only.
"""

import json
import os
import pathlib
import resource
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def envelope(payload):
    data = payload.encode()
    return b"\0" + len(data).to_bytes(4, "big") + data


def open_stream(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    body = envelope('{"start":"START_MODE_LIVE_ONLY"}')
    s.sendall(b"POST /kessan.v1.FeedService/Subscribe HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/connect+json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("stream closed before its head")
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return s, head.split(b"\r\n\r\n", 1)[1]


def main():
    kessand = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    seed = sys.argv[3] if len(sys.argv) > 3 else str(REPO / "data/iij/iij_4q02_fy2002.txtpb")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * n + 100)), hard))
    with tempfile.TemporaryDirectory() as data:
        p = subprocess.Popen([kessand, "--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
                              "--data_dir", data, "--seed", seed, "--plugin_dir", "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = 0
            while not port:
                line = p.stdout.readline()
                if not line:
                    raise RuntimeError("kessand exited")
                if line.startswith("kessand HTTP on port "):
                    port = int(line.split()[-1])
            first = [open_stream(port)]  # the pools a stream needs are up
            threads0, rss0 = status(p.pid)
            start = time.monotonic()
            streams = first + [open_stream(port) for _ in range(n - 1)]
            opened = time.monotonic() - start
            threads1, rss1 = status(p.pid)
            print(f"{n} open streams: kessand threads {threads0} -> {threads1}, "
                  f"RSS {rss0} -> {rss1} KiB ({(rss1 - rss0) / (n - 1):.1f} KiB per stream), "
                  f"opened in {opened:.2f} s")

            request = json.dumps({"items": [{"fact": {
                "key": {"issuer": "IIJ", "conceptId": "revenue",
                        "period": {"fiscalYear": 2002, "kind": "PERIOD_KIND_QUARTER", "number": 4}},
                "value": {"money": {"currencyCode": "JPY", "units": "13100000000"},
                          "precision": {"decimals": -8, "qualifier": "QUALIFIER_EQUAL"}},
                "provenance": {"document": "bench", "lineStart": 1, "lineEnd": 1, "quote": "x"}}}]})
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"POST /kessan.v1.FeedService/Publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/json\r\nContent-Length: " + str(len(request)).encode()
                      + b"\r\n\r\n" + request.encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            assert b" 200 " in reply.split(b"\r\n")[0], reply
            sequence = json.loads(reply.split(b"\r\n\r\n", 1)[1])["sequences"][0]
            got = 0
            for sock, pending in streams:
                data = pending
                while f'"sequence":"{sequence}"'.encode() not in data:
                    data += sock.recv(65536)
                got += 1
            print(f"the publish (sequence {sequence}) reached {got} of {n} streams")
            for sock, _ in streams:
                sock.close()
        finally:
            p.terminate()
            p.wait(timeout=30)



if __name__ == "__main__":
    main()
