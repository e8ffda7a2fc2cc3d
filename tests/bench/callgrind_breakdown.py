#!/usr/bin/env python3
"""Instructions per published event of the publish path's parts, from
`callgrind_annotate --inclusive=yes` of kessand (profile_publish.sh).

usage: callgrind_breakdown.py A.incl.txt [B.incl.txt ...]
Each A.incl.txt needs A.json beside it (kessan-bench's line: `published`).
Inclusive costs overlap: indented parts are inside the part above them.
"""
import json
import re
import sys

# (part, regular expression of the function, in callgrind_annotate's "file:function" form)
PARTS = [
    ("all threads", [r"PROGRAM TOTALS"]),
    # One pattern (the largest match counts): gRPC's deserializer calls the parse.
    ("receive + parse of PublishRequest",
     [r"GenericDeserialize<grpc::ProtoBufferReader, kessan::v1::PublishRequest>"
      r"|MessageLite::ParseFrom(Array|ZeroCopyStream)\(.*libprotobuf"]),
    ("Feed::Publish", [r"feed\.cc:kessan::Feed::Publish\(kessan::v1::PublishRequest\*"]),
    ("  stage (validate, stamp, encode; under mu_)", [r"feed\.cc:kessan::Feed::StageGroupLocked"]),
    ("    validate", [r"validate\.cc:kessan::ValidatePublish\(kessan::v1::PublishRequest\*"]),
    ("    AttrsOf (filter attributes, item key)", [r"keys\.cc:kessan::AttrsOf\("]),
    ("    encode (EncodeSerialized, EncodeSpliced)",
     [r"encoded_event\.cc:kessan::EncodeSerialized", r"encoded_event\.cc:kessan::EncodeSpliced"]),
    ("    items' bytes (PublishItemBodies)", [r"encoded_event\.cc:kessan::PublishItemBodies"]),
    ("    latest revision lookups", [r"GroupCatalog::Find", r"state\.cc:kessan::State::Latest"]),
    ("  commit (journal, apply, fan-out)", [r"feed\.cc:kessan::Feed::CommitGroup"]),
    ("    journal append (SQLite)", [r"sqlite_journal\.cc:kessan::SqliteJournal::Append"]),
    ("      row building (copy, CRC32C)", [r"sqlite_journal\.cc:kessan::\(anonymous namespace\)::AddToRow"]),
    ("      sqlite3_step", [r"\?\?\?:sqlite3_step "]),
    ("    state apply", [r"state\.cc:kessan::State::Apply"]),
    ("    fan-out push", [r"fanout\.cc:kessan::FanOut::Push"]),
    ("  wakes + gRPC send to subscribers", [r"wake_pool\.cc:kessan::WakePool::WakeAll"]),
    ("operator new/delete (jemalloc, every caller)", [r"libjemalloc.*operator (new|delete)\(|operator (new|delete)\(.*libjemalloc"]),
]


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
            if m:
                rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows


def part_cost(rows, patterns, summed):
    total = 0
    for pattern in patterns:
        hits = [c for c, s in rows if re.search(pattern, s)]
        total += sum(hits) if summed else max(hits or [0])
    return total


def main(paths):
    runs = []
    for path in paths:
        with open(re.sub(r"\.incl\.txt$", ".json", path)) as f:
            published = json.loads(f.read().strip().splitlines()[-1])["published"]
        runs.append((load(path), published))
    names = [re.sub(r".*/|\.incl\.txt$", "", p) for p in paths]
    print("%-48s" % "instructions per published event" + "".join("%14s" % n for n in names))
    for name, patterns in PARTS:
        summed = name.startswith("operator new")
        cells = "".join("%14.0f" % (part_cost(rows, patterns, summed) / n) for rows, n in runs)
        print("%-48s" % name + cells)
    print("%-48s" % "published events" + "".join("%14d" % n for _, n in runs))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
