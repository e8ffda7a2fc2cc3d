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
  - the flags the image, the unit and the manifests give kessand are flags
    the installed kessand's --help lists; a --seed is a file the image has;
  - k8s/*.yaml: the manifests parse; every Service and disruption budget
    selects a workload's pods;
    every probe and Service port names a port of the container; every volume
    mount names a volume or a claim template; kessand's data volume is mounted
    where the image keeps its journal;
  - k8s/nats.yaml: `nats-server -t` accepts the config of each nats
    container; its client, monitoring and cluster ports are the container's;
    its JetStream store is on a claim template; its routes name every pod of
    the StatefulSet through its headless Service; a kessand with --journal
    nats names a Service of the NATS client port and stream replicas 1..N;
  - metrics: every metric the Grafana dashboard (grafana/kessan.json)
    queries is one kessand exports (the names in server/metrics/, a
    histogram's with _bucket, _sum or _count), every job it names is a job
    of prometheus/prometheus.yml, which scrapes /metrics; and every metric
    kessand exports is documented in docs/operations.md.

Usage: check_deploy.py BUILD_DIR SOURCE_DIR
"""

import json
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
    "chromium",  # the dashboard's browser test (tests/web)
    "systemd", "python3-yaml",  # this check
    "libbenchmark-dev",  # the benchmarks (optional to the build)
    "openssl",  # the command, for deploy/tls and deploy/auth scripts
    "clang-format",  # make format and make lint
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


def kessand_flags(prefix):
    """The flags the installed kessand's --help lists."""
    out = run([os.path.join(prefix, "bin/kessand"), "--help"])
    flags = set(re.findall(r"^\s+--(\w+) \(", out.stdout, re.M))
    if out.returncode != 0 or not flags:
        fail(f"kessand --help listed no flags (exit {out.returncode}): {out.stderr.strip()}")
    return flags


def check_flags(what, args, flags):
    """Every --flag of `args` is one kessand has."""
    for a in args:
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            if flags and name not in flags:
                fail(f"{what}: kessand has no flag --{name} (kessand --help)")


def flag_value(args, name):
    """The value of --name in `args` (--name V or --name=V), None if absent."""
    for i, a in enumerate(args):
        if a == "--" + name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def image_entrypoint(source):
    """The image's ENTRYPOINT + CMD, as kessand's argv."""
    with open(os.path.join(source, "deploy/container/Containerfile")) as f:
        text = f.read()
    result = []
    for key in ("ENTRYPOINT", "CMD"):
        m = re.search(rf"^{key}\s+(\[.*\])\s*$", text, re.M)
        if m:
            result += yaml.safe_load(m.group(1))
    return result


def check_seed(what, args, source):
    """kessand's --seed, if any, is a file the image copies in from the tree."""
    seed = flag_value(args, "seed")
    if seed is None:
        return
    with open(os.path.join(source, "deploy/container/Containerfile")) as f:
        copies = re.findall(r"^COPY\s+(?!--)(\S+)\s+(\S+)\s*$", f.read(), re.M)
    for src, dest in copies:
        if seed.startswith(dest.rstrip("/") + "/"):
            if not os.path.isfile(os.path.join(source, src, seed[len(dest.rstrip("/")) + 1:])):
                fail(f"{what}: --seed {seed}: {src}/ of the tree has no such file")
            return
    fail(f"{what}: --seed {seed} is in no directory the image copies in")


def check_entrypoints(source, flags):
    """The flags kessand is given by the image and the systemd unit."""
    check_flags("Containerfile ENTRYPOINT/CMD", image_entrypoint(source), flags)
    check_seed("Containerfile ENTRYPOINT/CMD", image_entrypoint(source), source)
    with open(os.path.join(source, "deploy/systemd/kessand.service")) as f:
        exec_start = re.search(r"^ExecStart=(.*)$", f.read(), re.M).group(1)
    check_flags("kessand.service ExecStart", shlex.split(exec_start), flags)


def load_k8s(source):
    """Every manifest of deploy/k8s/*.yaml, as (file name, document)."""
    docs = []
    directory = os.path.join(source, "deploy/k8s")
    for name in sorted(os.listdir(directory)):
        if name.endswith(".yaml"):
            with open(os.path.join(directory, name)) as f:
                docs += [(name, d) for d in yaml.safe_load_all(f) if d]
    return docs


def is_kessand(container):
    return container["image"].split(":")[0].endswith("kessand")


def is_nats(container):
    return container["image"].split(":")[0].split("/")[-1] == "nats"


def nats_setting(conf, key, block=None):
    """`key: value` of a nats.conf, at the top level or in `block { }`."""
    if block:
        m = re.search(rf"^\s*{block}\s*\{{(.*?)^\s*\}}", conf, re.M | re.S)
        conf = m.group(1) if m else ""
    else:
        conf = re.sub(r"^\s*\w+\s*\{.*?^\s*\}", "", conf, flags=re.M | re.S)
    m = re.search(rf"^\s*{key}\s*[:=]\s*(\S+)", conf, re.M)
    return m.group(1) if m else None


def check_nats(where, workload, container, config_maps, tmp):
    """A nats-server StatefulSet: its config is valid (nats-server -t), its
    ports are the container's, its JetStream store is on a claim template,
    its routes name every pod of the StatefulSet through its headless Service."""
    spec = workload["spec"]
    pod = spec["template"]["spec"]
    args = container.get("command", []) + container.get("args", [])
    path = flag_value(args, "config") or flag_value(args, "c")
    if not path:
        fail(f"{where}: nats container has no --config")
        return None
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volume = {v["name"]: v for v in pod.get("volumes", [])}.get(mounts.get(os.path.dirname(path)))
    if not volume or "configMap" not in volume:
        fail(f"{where}: no ConfigMap mounted at {os.path.dirname(path)} (--config {path})")
        return None
    conf = config_maps.get(volume["configMap"]["name"], {}).get(os.path.basename(path))
    if conf is None:
        fail(f"{where}: ConfigMap {volume['configMap']['name']} has no {os.path.basename(path)}")
        return None
    conf_path = os.path.join(tmp, "nats.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    env = dict(os.environ)
    for e in container.get("env", []):  # as the kubelet sets them, for pod 0
        field = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        value = f"{workload['metadata']['name']}-0" if field == "metadata.name" else "x"
        if "value" in e:
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), e["value"])
        env[e["name"]] = value
    out = run(["nats-server", "-t", "-c", conf_path], env=env)
    if out.returncode != 0:
        fail(f"{where}: nats-server -t: {(out.stdout + out.stderr).strip()}")
    ports = container_ports(container)
    client = nats_setting(conf, "port") or "4222"
    settings = {"port": client, "http_port": nats_setting(conf, "http_port"),
                "cluster port": nats_setting(conf, "port", "cluster")}
    for what, value in settings.items():
        if value is None:
            fail(f"{where}: nats.conf sets no {what}")
        elif int(value) not in ports.values():
            fail(f"{where}: nats.conf {what} {value} is not a port of the container")
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    store = nats_setting(conf, "store_dir", "jetstream")
    if not store:
        fail(f"{where}: nats.conf has no jetstream store_dir")
    elif mounts.get(store) not in claims:
        fail(f"{where}: the JetStream store {store} is not on a volume claim template")
    pid_file = nats_setting(conf, "pid_file")
    if pid_file and os.path.dirname(pid_file) not in mounts:
        fail(f"{where}: nothing is mounted at {os.path.dirname(pid_file)} (pid_file)")
    m = re.search(r"routes\s*[:=]?\s*\[(.*?)\]", conf, re.S)
    routes = set(re.findall(r"nats://[^\s,\]]+", m.group(1))) if m else set()
    name, service = workload["metadata"]["name"], spec["serviceName"]
    want = {f"nats://{name}-{i}.{service}:{settings['cluster port']}"
            for i in range(spec["replicas"])}
    if routes != want:
        fail(f"{where}: routes {sorted(routes)}, want every pod: {sorted(want)}")
    return int(client)


def check_k8s(source, flags, tmp):
    docs = load_k8s(source)
    data_dir = flag_value(image_entrypoint(source), "data_dir")
    by_kind = {}
    for name, d in docs:
        by_kind.setdefault(d["kind"], []).append((name, d))
    config_maps = {d["metadata"]["name"]: d.get("data", {})
                   for _, d in by_kind.get("ConfigMap", [])}
    workloads = by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
    if not workloads:
        fail("k8s: no StatefulSet or Deployment")
    nats = {}  # StatefulSet name: (client port, replicas)
    kessands = []
    for file, w in workloads:
        where = f"k8s {file} {w['kind']} {w['metadata']['name']}"
        spec = w["spec"]
        pod = spec["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        volumes |= {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
            fail(f"{where}: the selector does not match the pod labels")
        for c in pod["containers"]:
            ports = container_ports(c)
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
                fail(f"{where}: container {c['name']} has no probe")
            mounts = c.get("volumeMounts", [])
            for m in mounts:
                if m["name"] not in volumes:
                    fail(f"{where}: volume mount '{m['name']}' names no volume or claim template")
            if is_kessand(c):
                args = c.get("command", []) + c.get("args", [])
                check_flags(f"{where} args", args, flags)
                check_seed(f"{where} args", args, source)
                kessands.append((where, args))
                if data_dir and data_dir not in {m["mountPath"] for m in mounts}:
                    fail(f"{where}: nothing is mounted at {data_dir}, where the image keeps its journal")
            elif is_nats(c):
                if w["kind"] != "StatefulSet":
                    fail(f"{where}: nats-server with JetStream needs a StatefulSet (stable names, volumes)")
                    continue
                client = check_nats(where, w, c, config_maps, tmp)
                if client is not None:
                    nats[w["metadata"]["name"]] = (client, spec["replicas"])
                service = next((d for _, d in by_kind.get("Service", [])
                                if d["metadata"]["name"] == spec["serviceName"]), None)
                if service is None or service["spec"].get("clusterIP") != "None":
                    fail(f"{where}: serviceName {spec['serviceName']} is no headless Service")
    services = {}  # Service name: {port: (target port, workload)}
    for file, s in by_kind.get("Service", []):
        name = s["metadata"]["name"]
        selected = [(wf, w) for wf, w in workloads
                    if s["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        if not selected:
            fail(f"k8s {file} Service {name}: its selector matches no workload's pods")
            continue
        for _, w in selected:
            ports = {}
            for c in w["spec"]["template"]["spec"]["containers"]:
                ports.update(container_ports(c))
            for p in s["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                check_probe_port(f"Service {name} targetPort", target, ports)
                services.setdefault(name, {})[p["port"]] = (ports.get(target, target),
                                                            w["metadata"]["name"])
    for file, b in by_kind.get("PodDisruptionBudget", []):
        labels = b["spec"]["selector"]["matchLabels"].items()
        if not any(labels <= w["spec"]["template"]["metadata"]["labels"].items()
                   for _, w in workloads):
            fail(f"k8s {file} PodDisruptionBudget {b['metadata']['name']}: "
                 "its selector matches no workload's pods")
    for where, args in kessands:
        if flag_value(args, "journal") != "nats":
            continue
        stream_replicas = int(flag_value(args, "nats_replicas") or 0)
        for url in (flag_value(args, "nats_url") or "nats://127.0.0.1:4222").split(","):
            m = re.match(r"nats://([^:/]+)(?::(\d+))?$", url.strip())
            host, port = (m.group(1), int(m.group(2) or 4222)) if m else (url, 0)
            target = services.get(host.split(".")[0], {}).get(port)
            if target is None or target[1] not in nats or nats[target[1]][0] != target[0]:
                fail(f"{where}: --nats_url {url} is no Service port of a NATS client port")
                continue
            replicas = nats[target[1]][1]
            if stream_replicas <= 0 or stream_replicas > replicas:
                fail(f"{where}: --nats_replicas {stream_replicas}: give 1..{replicas}, the NATS "
                     "nodes (the servers a client knows may be only the Service)")
    print(f"k8s: {len(docs)} manifests parse, probes, ports, volumes, kessand flags, "
          f"the NATS config and routes agree")


METRIC_NAME = re.compile(r"\b((?:kessan|grpc_server|process)_[a-z0-9_]*[a-z0-9])\b")


def exported_metrics(source):
    """(names, histogram names) of the metrics server/metrics/ defines."""
    names, histograms = set(), set()
    folder = os.path.join(source, "server/metrics")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".cc"):
            continue
        with open(os.path.join(folder, name)) as f:
            text = f.read()
        names.update(m.group(1) for m in re.finditer(r'"((?:kessan|grpc_server|process)_[a-z0-9_]+)"', text))
        histograms.update(m.group(1) for m in re.finditer(r'AddHistogram\(\s*"([a-z0-9_]+)"', text))
    return names, histograms


def check_metrics(source):
    names, histograms = exported_metrics(source)
    if not names or not histograms:
        fail("server/metrics: found no metric names (the check's patterns are out of date)")
        return
    try:
        with open(os.path.join(source, "deploy/prometheus/prometheus.yml")) as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(f"prometheus/prometheus.yml: {e}")
        return
    jobs = set()
    for job in (config or {}).get("scrape_configs") or []:
        jobs.add(job.get("job_name"))
        if job.get("metrics_path", "/metrics") != "/metrics":
            fail(f"prometheus.yml job {job.get('job_name')}: metrics_path is not /metrics")
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
        if not targets or any(not re.fullmatch(r"[\w.\-\[\]:]+:\d+", t) for t in targets):
            fail(f"prometheus.yml job {job.get('job_name')}: targets {targets} are not host:port")
    if not jobs:
        fail("prometheus.yml: no scrape_configs")
    try:
        with open(os.path.join(source, "deploy/grafana/kessan.json")) as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"grafana/kessan.json: {e}")
        return
    queried = set()
    for panel in dashboard.get("panels", []):
        targets = panel.get("targets") or []
        if not targets:
            fail(f"grafana/kessan.json panel '{panel.get('title')}': no query")
        for target in targets:
            expr = target.get("expr", "")
            found = {m.group(1) for m in METRIC_NAME.finditer(expr)}
            if not found:
                fail(f"grafana/kessan.json panel '{panel.get('title')}': '{expr}' names no kessand metric")
            queried |= found
            for job in re.findall(r'job\s*=~?\s*"([^"]*)"', expr):
                if job not in jobs:
                    fail(f"grafana/kessan.json: job \"{job}\" is no job of prometheus.yml ({sorted(jobs)})")
    for name in sorted(queried):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in names and not (base != name and base in histograms):
            fail(f"grafana/kessan.json queries {name}, which kessand does not export")
    with open(os.path.join(source, "docs/operations.md")) as f:
        docs = f.read()
    for name in sorted(names):
        if f"`{name}`" not in docs:
            fail(f"docs/operations.md does not document the metric {name}")


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
        flags = kessand_flags(prefix)
        check_entrypoints(source, flags)
        check_k8s(source, flags, tmp)
    check_metrics(source)
    if failures:
        print(f"{len(failures)} problems in deploy/")
        return 1
    print("deploy/ agrees with what this tree builds and installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
