#!/usr/bin/python3
"""Subscribes to a Kessan feed and prints one JSON line per FeedEvent.

    /usr/bin/python3 subscribe.py --server 127.0.0.1:50051 --issuer IIJ \
        --concept revenue --from snapshot

--from: "snapshot" (default: the latest state, then live events), "live"
(live events only) or a sequence N (resume: every event after N, then live).
A lost stream is resumed after the last sequence printed, with backoff
(notices on stderr; stdout stays one JSON line per event); --no-reconnect
ends at the first error instead. Exits 0 when the server ends the stream, 1
on an RPC error, 130 on Ctrl-C.
"""

import argparse
import os
import sys

# Run from a checkout without PYTHONPATH: the package is one level up.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from kessan_client import Client  # noqa: E402


def _start(value):
    if value in ("snapshot", "live"):
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'snapshot', 'live' or a sequence number, got {value!r}")
    if n < 0:
        raise argparse.ArgumentTypeError("a sequence number is >= 0")
    return n


def _print_notice(notice):
    if notice.kind == "disconnected":
        where = ("starting the snapshot over" if notice.restart_snapshot
                 else f"resuming after sequence {notice.resume_from}")
        text = (f"stream ended ({notice.code.name}: {notice.details}); "
                f"reconnecting in {notice.delay:.3f}s (attempt "
                f"{notice.attempt}), {where}")
    elif notice.kind == "resumed":
        text = f"reconnected (attempt {notice.attempt})"
    else:
        text = (f"resync: the journal no longer holds the events after "
                f"sequence {notice.resync.requested_sequence} (oldest "
                f"{notice.resync.oldest_available_sequence}); a full "
                "snapshot follows")
    print(f"subscribe: {text}", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051",
                        help="host:port of kessand (default %(default)s), "
                        "or replicas to fail over between: a:1,b:2")
    parser.add_argument("--issuer", action="append", default=[],
                        help="issuer id or alias; repeat for several")
    parser.add_argument("--concept", action="append", default=[],
                        help="concept id, e.g. revenue; repeat for several")
    parser.add_argument("--from", dest="start", type=_start,
                        default="snapshot",
                        help="snapshot (default), live, or a sequence N to "
                        "resume after")
    parser.add_argument("--no-reconnect", dest="reconnect",
                        action="store_false",
                        help="end at the first error instead of resuming")
    parser.add_argument("--heartbeat-ms", type=int, default=None,
                        help="heartbeat interval (100..60000; default 5000)")
    args = parser.parse_args(argv)

    if isinstance(args.start, int):
        kwargs = {"from_sequence": args.start}
    else:
        kwargs = {"start": args.start}
    if args.reconnect:
        kwargs.update(reconnect=True, on_notice=_print_notice)
    if args.heartbeat_ms is not None:
        kwargs["heartbeat_ms"] = args.heartbeat_ms
    try:
        client = Client(args.server)
    except ValueError as e:
        parser.error(f"--server: {e}")
    try:
        with client:
            for event in client.subscribe(issuers=args.issuer,
                                          concepts=args.concept, **kwargs):
                print(json_format.MessageToJson(event, indent=None),
                      flush=True)
    except grpc.RpcError as e:
        print(f"subscribe failed: {e.code().name}: {e.details()}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`.
        # Keep the interpreter's final flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
