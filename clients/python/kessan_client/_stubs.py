"""Locating the kessan.v1 Python stubs generated at build time.

The stubs are not checked in: CMake target `kessan_python_stubs` writes them
to <build>/python/kessan/v1/. `import_stubs` is the only place that knows
where to look.
"""

import os
import pathlib
import sys

# <repo>/clients/python/kessan_client/_stubs.py -> <repo>
_REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def import_stubs():
    """Imports and returns (types_pb2, model_pb2, feed_pb2, feed_pb2_grpc).

    Looks in $KESSAN_PY_GEN (a <build>/python directory) if set, else in
    <repo>/build/python (i.e. ../../build/python from clients/python). The
    directory is put first on sys.path. Raises ImportError naming the
    directory it looked in when the stubs are not there.
    """
    gen = (os.environ.get("KESSAN_PY_GEN") or
           str(_REPO_ROOT / "build" / "python"))
    if gen not in sys.path:
        sys.path.insert(0, gen)
    try:
        from kessan.v1 import feed_pb2, feed_pb2_grpc, model_pb2, types_pb2
    except ImportError as e:
        raise ImportError(
            f"kessan.v1 Python stubs not found in {gen!r} ({e}); build them "
            "with `ninja -C <build> kessan_python_stubs` and set KESSAN_PY_GEN "
            "to <build>/python") from e
    return types_pb2, model_pb2, feed_pb2, feed_pb2_grpc
