#!/usr/bin/env python3
"""compare_table.py RESULTS: the markdown tables of compare.sh.

Reads the peer tools' `RESULT key=value ...` lines and kessan-bench's JSON
lines; prints median [min-max] per (size, S, mode@rate, system), the ratios
kessan/redis and kessan/nats per repetition (same repetition = run back to
back), the disk's fdatasync latency and kessan's durable publish curve (batch
sizes and publishes in flight), and kessan's other runs (replay, idle,
scenario, and a subscriber per process: label 'procs-...')."""
import collections
import json
import statistics
import sys


def tools_us(d):
    # The load tools' CPU (subscriber processes and publisher) per delivery:
    # what the server leaves of the two shared cores goes there.
    try:
        cpu = float(d['sub_cpu_s']) + float(d['pub_cpu_s'])
    except (KeyError, ValueError):
        return float('nan')
    return cpu / float(d['delivered']) * 1e6 if float(d['delivered']) else float('nan')


def load(path):
    rows, other = [], []
    for line in open(path):
        line = line.strip()
        if line.startswith('{'):
            d = json.loads(line)
            # 'procs': a subscriber per process, reported on its own.
            if d.get('mode') not in ('tput', 'lat') or str(d.get('label', '')).startswith('procs'):
                other.append(d)
                continue
            d['srv_us'] = d['srv_cpu_us_per_delivery']
            d['bad'] = d.get('gaps', 0) + d.get('errors', 0)
            d['srv_hwm_kb'] = d.get('srv_rss_kb', float('nan'))
        elif line.startswith('RESULT'):
            d = dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)
            for k in ('delivered_per_s', 'p50_us', 'p99_us', 'srv_cpu_pct', 'srv_hwm_kb', 'elapsed_s',
                      'delivered', 'rate', 'errors', 'achieved_pub_rate', 'size', 'S'):
                d[k] = float(d.get(k, 'nan'))
            # as the peers' analyze.py: server CPU us per delivered message
            d['srv_us'] = (d['srv_cpu_pct'] / 100 * d['elapsed_s'] / d['delivered'] * 1e6
                           if d['delivered'] else float('nan'))
            d['bad'] = d['errors']
        else:
            continue
        d['tools_us'] = tools_us(d)
        d['rep'] = str(d.get('label', '-')).rsplit('-r', 1)[-1]
        rows.append(d)
    return rows, other


def mr(vals, fmt):
    vals = [v for v in vals if v == v and v is not None and v >= 0]
    if not vals:
        return '-'
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt % m
    return f"{fmt % m} [{fmt % min(vals)}-{fmt % max(vals)}]"


def kfmt(vals):
    vals = [v / 1000 for v in vals if v == v]
    return mr(vals, '%.0fk' if vals and min(vals) >= 10 else '%.1fk')


def main(path):
    rows, other = load(path)
    groups = collections.OrderedDict()
    for d in rows:
        key = (d['mode'], int(d['size']), int(d['S']), int(d['rate']))
        groups.setdefault(key, collections.OrderedDict()).setdefault(d['system'], []).append(d)
    print('| size | S | mode@rate | system | delivered ev/s | p50 us | p99 us | srv CPU % | '
          'srv CPU us/delivery | load tools CPU us/delivery | srv peak RSS MB | gaps+errors | runs |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (mode, size, S, rate), systems in sorted(groups.items(), key=lambda kv: (kv[0][0] != 'tput',) + kv[0][1:]):
        for name in sorted(systems, key=lambda n: (n != 'kessan', n)):
            ds = systems[name]
            lat = mode == 'lat'
            print(f"| {size} | {S} | {mode}@{rate if rate else 'max'} | {name} | "
                  f"{kfmt([d['delivered_per_s'] for d in ds])} | "
                  f"{mr([d['p50_us'] for d in ds], '%.0f') if lat else 'n/a'} | "
                  f"{mr([d['p99_us'] for d in ds], '%.0f') if lat else 'n/a'} | "
                  f"{mr([d['srv_cpu_pct'] for d in ds], '%.0f')} | {mr([d['srv_us'] for d in ds], '%.2f')} | "
                  f"{mr([d['tools_us'] for d in ds], '%.2f')} | "
                  f"{mr([d['srv_hwm_kb'] / 1024 for d in ds], '%.0f')} | {int(sum(d['bad'] for d in ds))} | {len(ds)} |")
    print()
    print('Ratios kessan/peer, per repetition (median [min-max]); delivered/s >= 1.0 and '
          'CPU/delivery <= 1.0 (NATS) or <= 2.0 (Redis) meet the targets; p99 <= 1.0 in lat mode:')
    print()
    print('| size | S | mode@rate | peer | delivered/s ratio | srv CPU us/delivery ratio | p99 ratio |')
    print('|---|---|---|---|---|---|---|')
    for (mode, size, S, rate), systems in sorted(groups.items(), key=lambda kv: (kv[0][0] != 'tput',) + kv[0][1:]):
        if 'kessan' not in systems:
            continue
        mine = {d['rep']: d for d in systems['kessan']}
        for peer in ('redis', 'nats'):
            if peer not in systems:
                continue
            r = collections.defaultdict(list)
            for b in systems[peer]:
                d = mine.get(b['rep'])
                if not d:
                    continue
                r['t'].append(d['delivered_per_s'] / b['delivered_per_s'] if b['delivered_per_s'] else float('nan'))
                r['c'].append(d['srv_us'] / b['srv_us'] if b['srv_us'] else float('nan'))
                if mode == 'lat':
                    r['p99'].append(d['p99_us'] / max(b['p99_us'], 1))
            print(f"| {size} | {S} | {mode}@{rate if rate else 'max'} | {peer} | {mr(r['t'], '%.2f')} | "
                  f"{mr(r['c'], '%.2f')} | {mr(r['p99'], '%.2f') if mode == 'lat' else 'n/a'} |")
    sync = next((d for d in other if d.get('mode') == 'fdatasync'), None)
    if sync:
        print()
        print(f"This machine's disk: fdatasync of a {sync['append_bytes'] // 1024} KiB append, p50 "
              f"{sync['p50_us']:.0f} us, p90 {sync['p90_us']:.0f} us, p99 {sync['p99_us']:.0f} us "
              f"({sync['count']} samples; {sync['syncs_per_s_at_p50']} syncs/s at p50).")
    curve = sorted((d for d in other if d.get('mode') == 'publish' and not d.get('skipped')),
                   key=lambda d: (d['batch'] * d['pub_inflight'], d['batch']))
    if curve:
        print()
        print('Durable publish curve (no subscriber; each event validated, journaled and synced before '
              'its acknowledgement). The sync ceiling is the syncs/s at p50 times the events in flight '
              '(every in-flight event in one commit): a rate near it is bound by the disk, a rate far '
              'below it with the server near 100 % CPU by the CPU.')
        print()
        print('| batch | in flight | acked events/s | ack p50 us | ack p99 us | srv CPU % | '
              'srv CPU us/event | sync ceiling events/s |')
        print('|---|---|---|---|---|---|---|---|')
        for d in curve:
            ceiling = (f"{sync['syncs_per_s_at_p50'] * d['batch'] * d['pub_inflight']:.0f}" if sync else '-')
            print(f"| {d['batch']} | {d['pub_inflight']} | {d['acked_per_s']:.0f} | {d['ack_p50_us']:.0f} | "
                  f"{d['ack_p99_us']:.0f} | {d['srv_cpu_pct']:.0f} | {d['srv_cpu_us_per_event']:.2f} | "
                  f"{ceiling} |")
    other = [d for d in other if d.get('mode') not in ('fdatasync', 'publish')]
    if other:
        print()
        print('kessan only:')
        print()
        print('| mode | figure | value |')
        print('|---|---|---|')
        for d in other:
            m = d.get('mode')
            if d.get('skipped'):
                print(f"| {m} | skipped | {d['skipped']} |")
            elif m == 'tput':
                print(f"| tput ({d['S']} subscribers, one per process: {d['workers']} processes, {d['size']} B) | "
                      f"delivered events/s | {d['delivered_per_s']:.0f} (srv CPU {d['srv_cpu_us_per_delivery']:.2f} "
                      f"us/delivery, gaps {d['gaps']}, errors {d['errors']}) |")
            elif m == 'replay':
                print(f"| replay ({d['journal_events']} events of {d['event_bytes']} B) | replayed events/s from "
                      f"sequence 0 | {d['replay_per_s']:.0f} ("
                      + (f"srv CPU {d['srv_cpu_us_per_event']:.2f} us/event, the subscriber "
                         f"{d['sub_cpu_s']:.2f} s of CPU in {d['elapsed_s']:.2f} s, "
                         if 'srv_cpu_us_per_event' in d else '')
                      + f"gaps {d['gaps']}) |")
            elif m == 'idle':
                print(f"| idle ({d['S']} subscribers, {d['streams_per_channel']} per connection) | server bytes per "
                      f"idle subscriber | {d['srv_bytes_per_idle_subscriber']:.0f} (RSS {d['srv_rss_before_kb']} -> "
                      f"{d['srv_rss_after_kb']} kB; idle CPU {d['srv_idle_cpu_pct']:.1f} %) |")
            elif m == 'scenario':
                print(f"| scenario (dilution, {d['concurrency']} in flight) | RunScenario calls/s | "
                      f"{d['calls_per_s']:.1f} (p50 {d['p50_us']:.0f} us, p99 {d['p99_us']:.0f} us) |")


if __name__ == '__main__':
    main(sys.argv[1])
