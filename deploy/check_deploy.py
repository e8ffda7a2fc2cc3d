#!/usr/bin/python3
"""Checks that deploy/ works with the binaries this tree builds.

There is no container engine or cluster here, so it checks what can be
checked (ctest deploy_check):
  - container/Containerfile: its runtime stage installs the Debian package of
    every shared library the installed binaries and plugins load (ldd, then
    dpkg -S), beyond those every debian:12 image has (BASE_IMAGE);
    its build stage installs every package .ci/deps.sh installs, but those
    BUILD_STAGE_NOT_NEEDED names (tests and tools only);
  - systemd/kessand.service: `systemd-analyze verify` passes with its
    binaries at the installed layout (a copy with /usr/local replaced);
  - k8s/kessand.yaml: the manifests parse; every probe and Service port names
    a port of the container; every volume mount names a volume or a claim
    template; the data volume is mounted where the image keeps its journal.

Usage: check_deploy.py BUILD_DIR SOURCE_DIR
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

# Packages of .ci/deps.sh the container's build stage does not need: the
# test runners, sanitizers, clients and tools of `make test`.
BUILD_STAGE_NOT_NEEDED = {
    "git",  # the source is copied in
    "python3-grpcio", "python3-protobuf",  # the Python client's tests
    "nodejs", "npm",  # the Node client and buf lint
    "clang", "clang-14", "libclang-rt-14-dev",  # sanitizer and fuzz builds
    "nats-server",  # the cluster tests' servers
    "systemd", "python3-yaml",  # this check
    "libbenchmark-dev",  # the benchmarks (optional to the build)
    "openssl",  # the command, for deploy/tls and deploy/auth scripts
}

# In every debian:12 image: apt and dpkg depend on them.
BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def run(args, **kwargs):
    return subprocess.run(args, check=False, capture_output=True, text=True, **kwargs)


def stages(containerfile):
    """The apt-get install packages of each FROM stage, in order."""
    text = containerfile.replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        if re.match(r"\s*FROM\s", line):
            result.append(set())
            continue
        for m in re.finditer(r"apt-get install ([^&;]*)", line):
            if not result:
                continue
            result[-1].update(w for w in shlex.split(m.group(1)) if not w.startswith("-"))
    return result


def deps_packages(deps_sh):
    m = re.search(r"APT_PACKAGES=\((.*?)\n\)", deps_sh, re.S)
    names = []
    for line in m.group(1).splitlines():
        names += line.split("#", 1)[0].split()
    return set(names)


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def candidates(path):
    """`path` as dpkg may have recorded it (usr-merged or not)."""
    result = {path, os.path.realpath(path)}
    for p in list(result):
        if p.startswith("/usr/lib/"):
            result.add(p[len("/usr"):])
        elif p.startswith("/lib/"):
            result.add("/usr" + p)
    return result


def packages_of(paths):
    """{path: Debian package} for those of `paths` a package holds (one dpkg -S)."""
    wanted = {}
    for path in paths:
        for c in candidates(path):
            wanted.setdefault(c, set()).add(path)
    out = run(["dpkg", "-S"] + sorted(wanted))
    result = {}
    for line in out.stdout.splitlines():
        m = re.match(r"([^:,\s]+)(?::[^:\s]+)?(?:, [^:]+)*: (/\S+)$", line)
        if m and m.group(2) in wanted:
            for path in wanted[m.group(2)]:
                result.setdefault(path, m.group(1))
    return result


def check_container(source, prefix):
    with open(os.path.join(source, "deploy/container/Containerfile")) as f:
        found = stages(f.read())
    if len(found) != 2:
        fail(f"Containerfile: {len(found)} stages, want a build and a runtime stage")
        return
    build, runtime = found

    with open(os.path.join(source, ".ci/deps.sh")) as f:
        wanted = deps_packages(f.read()) - BUILD_STAGE_NOT_NEEDED
    for p in sorted(wanted - build):
        fail(f"Containerfile build stage does not install {p} (.ci/deps.sh installs it)")

    libraries = {}
    for root, _, files in os.walk(prefix):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or not is_elf(path):
                continue
            out = run(["ldd", path])
            for m in re.finditer(r"=>\s+(/\S+)", out.stdout):
                libraries.setdefault(m.group(1), path)
    if not libraries:
        fail("no shared library found in the installed binaries (ldd failed?)")
    needed = {}
    outside = [lib for lib in libraries if not lib.startswith(prefix)]
    owners = packages_of(outside)
    for lib in outside:
        user = libraries[lib]
        if lib not in owners:
            fail(f"{lib} (loaded by {os.path.relpath(user, prefix)}) is in no Debian package")
            continue
        needed.setdefault(owners[lib], (lib, user))
    for package, (lib, user) in sorted(needed.items()):
        if package in runtime or package in BASE_IMAGE:
            continue
        fail(f"Containerfile runtime stage does not install {package} "
             f"({lib}, loaded by {os.path.relpath(user, prefix)})")
    print(f"container: {len(needed)} packages loaded at run time, "
          f"{len(runtime)} installed by the runtime stage")


def check_systemd(source, prefix, tmp):
    if shutil.which("systemd-analyze") is None:
        fail("systemd-analyze is not installed (.ci/deps.sh installs systemd)")
        return
    with open(os.path.join(source, "deploy/systemd/kessand.service")) as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    if not exec_start.startswith("/usr/local/"):
        fail(f"kessand.service: ExecStart {exec_start} is not under the install prefix /usr/local")
        return
    installed = os.path.join(prefix, exec_start[len("/usr/local/"):])
    if not os.access(installed, os.X_OK):
        fail(f"kessand.service: ExecStart {exec_start}: `cmake --install` puts nothing there")
    path = os.path.join(tmp, "kessand.service")
    with open(path, "w") as f:
        f.write(unit.replace("/usr/local/", prefix + "/"))
    out = run(["systemd-analyze", "verify", "--man=no", path])
    # Outside a booted system it may warn about the host; only the unit counts.
    problems = [l for l in (out.stdout + out.stderr).splitlines() if "kessand.service" in l]
    if out.returncode != 0 or problems:
        fail("systemd-analyze verify kessand.service:\n  " + "\n  ".join(problems or [out.stderr]))
    else:
        print("systemd: kessand.service verifies")


def container_ports(container):
    return {p.get("name"): p["containerPort"] for p in container.get("ports", [])}


def check_probe_port(what, port, ports):
    if isinstance(port, str):
        if port not in ports:
            fail(f"k8s: {what} names port '{port}', which the container does not declare")
    elif port not in ports.values():
        fail(f"k8s: {what} uses port {port}, which the container does not declare")


def check_k8s(source):
    with open(os.path.join(source, "deploy/k8s/kessand.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    with open(os.path.join(source, "deploy/container/Containerfile")) as f:
        entry = re.search(r"--data_dir\", \"([^\"]+)\"", f.read())
    data_dir = entry.group(1) if entry else None
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    workloads = by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
    if not workloads:
        fail("k8s: no StatefulSet or Deployment")
    all_ports = {}
    for w in workloads:
        spec = w["spec"]
        pod = spec["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        volumes |= {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
            fail(f"k8s: {w['metadata']['name']}: the selector does not match the pod labels")
        for c in pod["containers"]:
            ports = container_ports(c)
            all_ports.update(ports)
            probes = 0
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = c.get(kind)
                if not probe:
                    continue
                probes += 1
                for handler in ("grpc", "tcpSocket", "httpGet"):
                    if handler in probe:
                        check_probe_port(f"{c['name']} {kind}", probe[handler]["port"], ports)
            if probes == 0:
                fail(f"k8s: container {c['name']} has no probe")
            mounts = c.get("volumeMounts", [])
            for m in mounts:
                if m["name"] not in volumes:
                    fail(f"k8s: volume mount '{m['name']}' names no volume or claim template")
            if data_dir and data_dir not in {m["mountPath"] for m in mounts}:
                fail(f"k8s: nothing is mounted at {data_dir}, where the image keeps its journal")
    for s in by_kind.get("Service", []):
        for p in s["spec"]["ports"]:
            check_probe_port(f"Service {s['metadata']['name']} targetPort",
                             p.get("targetPort", p["port"]), all_ports)
    print(f"k8s: {len(docs)} manifests parse, probes, ports and volumes agree")


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="kessan-deploy-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        out = run(["cmake", "--install", build, "--prefix", prefix])
        if out.returncode != 0:
            print(out.stdout + out.stderr)
            fail("cmake --install failed")
            return 1
        check_container(source, prefix)
        check_systemd(source, prefix, tmp)
    check_k8s(source)
    if failures:
        print(f"{len(failures)} problems in deploy/")
        return 1
    print("deploy/ agrees with what this tree builds and installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
