#!/usr/bin/env python3
"""cluster_table.py RESULTS: the markdown table of a cluster_compare.sh run.

Median [min-max] over repetitions of each row (`<what> S=<n> rep=<r>
load=<1-min load> <JSON or RESULT line>`): delivered/s (acked/s for publish),
p50/p99 us, kessand's CPU per delivery (per event for publish), the NATS
servers' CPU per published event, the second kessand's CPU per delivery
(--replicas 2), gaps+errors, the 1-min load seen.
"""
import json
import statistics
import sys


def parse(path):
    rows = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        what, s, rep, load, rest = line.rstrip("\n").split(" ", 4)
        if rest.startswith("{"):
            d = json.loads(rest)
        elif rest.startswith("RESULT"):
            d = dict(kv.split("=", 1) for kv in rest.split()[1:] if "=" in kv)
            d = {k: (float(v) if v.replace(".", "", 1).isdigit() else v) for k, v in d.items()}
            # As the peers' analyze.py: server CPU x elapsed / delivered.
            if d.get("delivered"):
                d["srv_cpu_us_per_delivery"] = (
                    d["srv_cpu_pct"] / 100 * d["elapsed_s"] / d["delivered"] * 1e6)
        else:
            d = {"failed": True}
        d["load"] = float(load.split("=")[1])
        rows.setdefault((what, s), []).append(d)
    return rows


def fmt(values, scale=1.0, unit="", digits=0):
    values = [v * scale for v in values if v is not None]
    if not values:
        return "n/a"
    f = lambda v: f"{v:.{digits}f}{unit}"
    med = statistics.median(values)
    return f"{f(med)} [{f(min(values))}-{f(max(values))}]" if len(values) > 1 else f(med)


def main():
    rows = parse(sys.argv[1])
    print("| run | S | rate/s | p50 us | p99 us | kessand CPU us/delivery | nats-servers CPU us/event |"
          " 2nd replica CPU us/delivery | gaps+errors | load | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (what, s), runs in rows.items():
        ok = [r for r in runs if not r.get("failed")]
        publish = what.endswith("publish")
        rate = [r.get("acked_per_s") if publish else r.get("delivered_per_s") for r in ok]
        cpu = [r.get("srv_cpu_us_per_event") if publish else r.get("srv_cpu_us_per_delivery") for r in ok]
        lat = what.endswith("lat")
        print(f"| {what} | {s[2:]} | {fmt(rate, 1e-3, 'k')} | "
              f"{fmt([r.get('p50_us') for r in ok]) if lat else 'n/a'} | "
              f"{fmt([r.get('p99_us') for r in ok]) if lat else 'n/a'} | "
              f"{fmt(cpu, digits=2)} | "
              f"{fmt([r.get('nats_cpu_us_per_event') for r in ok], digits=1)} | "
              f"{fmt([r.get('srv2_cpu_us_per_delivery') for r in ok], digits=2)} | "
              f"{sum(int(r.get('gaps', 0)) + int(r.get('errors', 0)) for r in ok)}"
              f"{' + %d failed' % (len(runs) - len(ok)) if len(ok) < len(runs) else ''} | "
              f"{fmt([r['load'] for r in runs], digits=2)} | {len(runs)} |")


if __name__ == "__main__":
    main()
