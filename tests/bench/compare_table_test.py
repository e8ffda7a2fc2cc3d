"""compare_table.py on a results file of one repetition: the figures and
ratios it prints are the ones in the lines it read."""
import contextlib
import io
import json
import os
import tempfile
import unittest

import compare_table

KESSAN = {"system": "kessan", "mode": "tput", "label": "kessan-r1", "size": 200, "S": 16,
          "rate": 0, "delivered": 8000000, "delivered_per_s": 2000000, "srv_cpu_pct": 60.0,
          "srv_cpu_us_per_delivery": 0.30, "srv_rss_kb": 40960, "pub_cpu_s": 0.4,
          "sub_cpu_s": 3.6, "gaps": 0, "errors": 0}
# 4 s, 60 % of a core for 8M deliveries: 0.30 us each; tools 4.0 s / 8M = 0.50 us.
NATS = ("RESULT system=nats label=nats-r1 mode=tput size=200 S=16 rate=0 delivered=10000000 "
        "delivered_per_s=2500000 elapsed_s=4.000 srv_cpu_pct=50.0 srv_hwm_kb=20480 "
        "achieved_pub_rate=156250 pub_cpu_s=1.0 sub_cpu_s=2.0 errors=0")


def table(lines):
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
        f.write('\n'.join(lines) + '\n')
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            compare_table.main(f.name)
        return out.getvalue()
    finally:
        os.unlink(f.name)


def row(text, *first_cells, after=''):
    # The first table row starting with first_cells, below the line holding `after`.
    lines = text.splitlines()
    if after:
        lines = lines[next(i for i, l in enumerate(lines) if after in l):]
    for line in lines:
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[:len(first_cells)] == list(first_cells):
            return cells
    raise AssertionError(f'no row {first_cells} in:\n{text}')


class CompareTableTest(unittest.TestCase):
    def test_figures_and_ratios_come_from_the_results(self):
        text = table([json.dumps(KESSAN), NATS])
        k = row(text, '200', '16', 'tput@max', 'kessan')
        n = row(text, '200', '16', 'tput@max', 'nats')
        self.assertEqual(k[4], '2000k')
        self.assertEqual(k[8], '0.30')   # server CPU per delivery
        self.assertEqual(k[9], '0.50')   # load tools: (3.6 + 0.4) s / 8M
        self.assertEqual(n[8], '0.20')   # 50 % of 4 s over 10M
        self.assertEqual(n[9], '0.30')   # (2.0 + 1.0) s / 10M
        ratio = row(text, '200', '16', 'tput@max', 'nats', after='Ratios kessan/peer')
        self.assertEqual(ratio[4], '0.80')  # delivered: 2.0M / 2.5M
        self.assertEqual(ratio[5], '1.50')  # server CPU: 0.30 / 0.20

    def test_a_subscriber_per_process_run_stands_apart(self):
        procs = dict(KESSAN, label='procs-r1', S=256, workers=256, delivered_per_s=1700000,
                     srv_cpu_us_per_delivery=0.31)
        text = table([json.dumps(KESSAN), json.dumps(procs), NATS])
        main = row(text, '200', '16', 'tput@max', 'kessan')
        self.assertEqual(main[4], '2000k')
        self.assertEqual(main[-1], '1')  # the procs run is not one of the repetitions
        self.assertNotIn('| 200 | 256 |', text)
        own = row(text, 'tput (256 subscribers, one per process: 256 processes, 200 B)',
                  after='kessan only')
        self.assertEqual(own[1:], ['delivered events/s',
                                   '1700000 (srv CPU 0.31 us/delivery, gaps 0, errors 0)'])

    def test_a_line_without_the_tools_cpu_shows_a_dash(self):
        peer = ' '.join(kv for kv in NATS.split() if not kv.startswith(('pub_cpu_s', 'sub_cpu_s')))
        n = row(table([peer]), '200', '16', 'tput@max', 'nats')
        self.assertEqual(n[9], '-')

    def test_the_publish_curve_sits_beside_the_disks_sync_rate(self):
        sync = {"system": "machine", "mode": "fdatasync", "label": "machine-r1", "append_bytes": 65536,
                "count": 200, "p50_us": 250.0, "p90_us": 300.0, "p99_us": 400.0, "mean_us": 260.0,
                "syncs_per_s_at_p50": 4000}
        pub = {"system": "kessan", "mode": "publish", "label": "kessan-r1", "size": 200, "batch": 1000,
               "pub_inflight": 2, "acked_per_s": 300000, "ack_p50_us": 6000, "ack_p99_us": 9000,
               "srv_cpu_pct": 97.0, "srv_cpu_us_per_event": 3.25}
        single = dict(pub, batch=1, pub_inflight=1, acked_per_s=3000, ack_p50_us=320, ack_p99_us=700,
                      srv_cpu_pct=20.0, srv_cpu_us_per_event=60.0)
        text = table([json.dumps(KESSAN), json.dumps(pub), json.dumps(sync), json.dumps(single)])
        self.assertIn('fdatasync of a 64 KiB append, p50 250 us, p90 300 us, p99 400 us', text)
        lines = text[text.index('Durable publish curve'):].splitlines()
        first = next(i for i, l in enumerate(lines) if l.startswith('| 1 |'))
        # Sorted by events in flight; the ceiling is 4,000 syncs/s times them.
        self.assertEqual(row(text, '1', '1', after='Durable publish curve'),
                         ['1', '1', '3000', '320', '700', '20', '60.00', '4000'])
        self.assertEqual(row(text, '1000', '2', after='Durable publish curve'),
                         ['1000', '2', '300000', '6000', '9000', '97', '3.25', '8000000'])
        self.assertTrue(lines[first + 1].startswith('| 1000 | 2 |'))
        self.assertNotIn('publish (batch', text)


if __name__ == '__main__':
    unittest.main()
