// Tests of server/journal/journal_rows.cc: the journal's row format.
#include "journal/journal_rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvent;
using ::kessan::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The records of a row, each checked against its checksum (with `crcs`),
// or the first error.
absl::StatusOr<std::vector<JournalRecord>> ReadRow(uint64_t first, uint64_t last, absl::string_view keys,
                                                   absl::string_view events,
                                                   std::optional<absl::string_view> crcs = std::nullopt) {
  RowReader reader(first, last, keys, events, crcs);
  std::vector<JournalRecord> records;
  JournalRecord r;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&r);
    if (!more.ok()) return more.status();
    if (!*more) return records;
    if (absl::Status sound = reader.Verify(r); !sound.ok()) return sound;
    records.push_back(r);
  }
}

TEST(JournalRowsTest, ARowReadsBackItsRecords) {
  RowBuilder row;
  std::vector<EventPtr> events = {FactEvent(7), FactEvent(8), FactEvent(10)};
  row.Add(7, 100, "fact:a", events[0]->frame());
  row.Add(8, -5, "", events[1]->frame());
  row.Add(10, 1LL << 62, "fact:c", events[2]->frame());
  EXPECT_EQ(row.first_sequence(), 7u);
  EXPECT_EQ(row.last_sequence(), 10u);
  EXPECT_EQ(row.count(), 3u);
  absl::StatusOr<std::vector<JournalRecord>> read = ReadRow(7, 10, row.keys(), row.events());
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  const int64_t times[] = {100, -5, 1LL << 62};
  const char* keys[] = {"fact:a", "", "fact:c"};
  const uint64_t sequences[] = {7, 8, 10};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*read)[i].sequence, sequences[i]);
    EXPECT_EQ((*read)[i].time_ns, times[i]);
    EXPECT_EQ((*read)[i].item_key, keys[i]);
    EXPECT_EQ((*read)[i].frame, events[i]->frame());
    EXPECT_EQ((*read)[i].body, events[i]->body());
  }
  row.Clear();
  EXPECT_TRUE(row.empty());
  EXPECT_TRUE(row.keys().empty() && row.events().empty());
}

TEST(JournalRowsTest, AClearedRowKeepsNothingOfTheRowBefore) {
  RowBuilder reused;
  reused.Add(1, 10, "fact:first", FactEvent(1)->frame());
  reused.Add(2, 20, "fact:second", FactEvent(2)->frame());
  reused.Clear();
  RowBuilder fresh;
  for (RowBuilder* row : {&reused, &fresh}) {
    row->Add(3, 30, "fact:third", FactEvent(3)->frame());
    row->Add(4, 40, "", FactEvent(4)->frame());
  }
  EXPECT_EQ(reused.keys(), fresh.keys());
  EXPECT_EQ(reused.events(), fresh.events());
  EXPECT_EQ(reused.crcs(), fresh.crcs());
  ASSERT_EQ(reused.crcs().size(), 4u * 3);
  const std::string crcs = reused.crcs();
  absl::StatusOr<std::vector<JournalRecord>> read = ReadRow(3, 4, reused.keys(), reused.events(), crcs);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].item_key, "fact:third");
  EXPECT_EQ((*read)[1].time_ns, 40);
}

TEST(JournalRowsTest, ARowIsFullAtItsEventCountOrItsBytes) {
  EventPtr small = FactEvent(1);
  RowBuilder by_count;
  for (uint64_t s = 1; s < kMaxRowEvents; ++s) by_count.Add(s, 0, "k", small->frame());
  EXPECT_FALSE(by_count.Full());
  by_count.Add(kMaxRowEvents, 0, "k", small->frame());
  EXPECT_TRUE(by_count.Full());

  const std::string big(kMaxRowBytes / 2, 'x');
  RowBuilder by_bytes;
  by_bytes.Add(1, 0, "k", big);
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.Add(2, 0, "k", big);
  EXPECT_TRUE(by_bytes.Full());
}

TEST(JournalRowsTest, KeysAloneSkipTheEvents) {
  RowBuilder row;
  row.Add(3, 1, "a", FactEvent(3)->frame());
  row.Add(4, 2, "b", FactEvent(4)->frame());
  const std::string crcs = row.crcs();  // the reader keeps a view of it
  RowReader reader(3, 4, row.keys(), "", crcs);
  JournalRecord r;
  std::vector<uint64_t> sequences;
  while (*reader.NextKey(&r)) sequences.push_back(r.sequence);
  EXPECT_THAT(sequences, ElementsAre(3, 4));
}

class DamagedRowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    row_.Add(5, 1, "a", FactEvent(5)->frame());
    row_.Add(6, 2, "b", FactEvent(6)->frame());
  }
  absl::Status Read(uint64_t first, uint64_t last, absl::string_view keys, absl::string_view events) {
    return ReadRow(first, last, keys, events).status();
  }
  RowBuilder row_;
};

TEST_F(DamagedRowTest, EveryDamageIsDataLossNamingTheRow) {
  const std::string& k = row_.keys();
  const std::string& e = row_.events();
  ASSERT_TRUE(Read(5, 6, k, e).ok());
  auto damaged = [](const std::string& what) {
    return StatusIs(absl::StatusCode::kDataLoss,
                    HasSubstr("journal row from sequence 5 is damaged: " + what));
  };
  EXPECT_THAT(Read(5, 6, "", ""), damaged("it holds no events"));
  EXPECT_THAT(Read(5, 6, k.substr(0, k.size() - 1), e), damaged("a key entry is cut short"));
  EXPECT_THAT(Read(5, 6, k.substr(0, 4), e), damaged("a key entry is cut short"));
  EXPECT_THAT(Read(5, 6, k, e.substr(0, e.size() - 1)), damaged("the frame of sequence 6 is cut short"));
  EXPECT_THAT(Read(5, 6, k, e + e), damaged("it holds more frames than keys"));
  EXPECT_THAT(Read(5, 7, k, e), damaged("it ends at sequence 6, not 7"));
  EXPECT_THAT(Read(5, 5, k, e), damaged("sequence 6 is past its last, 5"));
  EXPECT_THAT(Read(5, 6, k, "x" + e), damaged("no frame for sequence 5"));
  // The frame tag over-long (0x8a 0x00 also decodes to field 1, wire type 2).
  EXPECT_THAT(Read(5, 6, k, std::string("\x8a\x00", 2) + e.substr(1)), damaged("no frame for sequence 5"));
  // A first key entry that does not start the row, and keys out of order.
  std::string late = k;
  late[0] = 1;
  EXPECT_THAT(Read(5, 6, late, e), damaged("sequence 6 is out of order"));
  std::string backwards = k;
  backwards[backwards.size() / 2] = 0;  // the second entry's delta byte
  ASSERT_EQ(k[k.size() / 2], 1) << "the second entry starts half way";
  EXPECT_THAT(Read(5, 6, backwards, e), damaged("sequence 5 is out of order"));
}

// A row of three events: each event's frame and the keys have a checksum.
class RowChecksumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t s : {7, 8, 10}) {
      row_.Add(s, static_cast<int64_t>(s), "fact:x", FactEvent(s)->frame());
    }
  }
  absl::StatusOr<std::vector<JournalRecord>> Read(absl::string_view keys, absl::string_view events,
                                                  absl::string_view crcs, uint64_t first = 7,
                                                  uint64_t last = 10) {
    return ReadRow(first, last, keys, events, crcs);
  }
  RowBuilder row_;
};

TEST_F(RowChecksumTest, ASoundRowPassesAndAnOlderRowIsChecksummedTheSame) {
  ASSERT_EQ(row_.crcs().size(), 4u * 4);  // the keys' and three events'
  absl::StatusOr<std::vector<JournalRecord>> read = Read(row_.keys(), row_.events(), row_.crcs());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 3u);
  absl::StatusOr<std::string> crcs = ChecksumRow(7, 10, row_.keys(), row_.events());
  ASSERT_TRUE(crcs.ok()) << crcs.status();
  EXPECT_EQ(*crcs, row_.crcs());
  EXPECT_THAT(ChecksumRow(7, 10, row_.keys(), row_.events().substr(1)).status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Every bit of every event's frame is covered: a flip is DATA_LOSS naming
// that event (or the row, where it breaks the frame's tag or length), and
// the events before it read.
TEST_F(RowChecksumTest, AnyFlippedBitInAnEventIsFoundAndNamed) {
  const std::string events = row_.events();
  const std::string crcs = row_.crcs();
  const size_t ends[] = {FactEvent(7)->frame_size(), FactEvent(7)->frame_size() + FactEvent(8)->frame_size(),
                         events.size()};
  const uint64_t sequences[] = {7, 8, 10};
  for (size_t at = 0; at < events.size(); ++at) {
    const size_t event = at < ends[0] ? 0 : at < ends[1] ? 1 : 2;
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = events;
      damaged[at] ^= static_cast<char>(1 << bit);
      RowReader reader(7, 10, row_.keys(), damaged, crcs);
      JournalRecord r;
      size_t sound = 0;
      absl::Status status;
      while (status.ok()) {
        absl::StatusOr<bool> more = reader.Next(&r);
        if (!more.ok()) status = more.status();
        if (!more.ok() || !*more) break;
        status = reader.Verify(r);
        if (status.ok()) ++sound;
      }
      ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss) << "byte " << at << " bit " << bit;
      EXPECT_EQ(sound, event) << "byte " << at << " bit " << bit;
      if (absl::StrContains(status.message(), "checksum")) {
        EXPECT_EQ(status.message(),
                  absl::StrCat("event ", sequences[event], " is damaged (checksum mismatch)"));
      }
    }
  }
}

TEST_F(RowChecksumTest, DamagedKeysAMovedRowOrSwappedEventsAreFound) {
  const std::string& k = row_.keys();
  const std::string& e = row_.events();
  const std::string c = row_.crcs();
  auto keys_damaged = [](uint64_t first, uint64_t last) {
    return StatusIs(
        absl::StatusCode::kDataLoss,
        absl::StrCat("events ", first, " to ", last, " are damaged (checksum mismatch of their keys)"));
  };
  std::string key_flip = k;
  key_flip[3] ^= 0x10;  // inside the first key entry's time: structure still sound
  EXPECT_THAT(Read(key_flip, e, c).status(), keys_damaged(7, 10));
  // The row's columns moved: its range is in the keys' checksum.
  EXPECT_THAT(Read(k, e, c, 17, 20).status(), keys_damaged(17, 20));
  EXPECT_THAT(Read(k, e, c, 7, 11).status(), keys_damaged(7, 11));
  // The same checksums in another order: each covers its own sequence.
  std::string swapped = c;
  std::swap_ranges(swapped.begin() + 4, swapped.begin() + 8, swapped.begin() + 8);
  EXPECT_THAT(Read(k, e, swapped).status(),
              StatusIs(absl::StatusCode::kDataLoss, "event 7 is damaged (checksum mismatch)"));
  // Checksums cut short or added to.
  EXPECT_THAT(Read(k, e, c.substr(0, 12)).status(),
              StatusIs(absl::StatusCode::kDataLoss, "event 10 is damaged (its checksum is missing)"));
  EXPECT_THAT(Read(k, e, c + c.substr(4, 4)).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("holds 4 event checksums for 3 events")));
  EXPECT_THAT(Read(k, e, c.substr(0, 3)).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("its checksums are 3 bytes")));
  EXPECT_THAT(Read(k, e, "").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("its checksums are 0 bytes")));
}

}  // namespace
}  // namespace kessan
