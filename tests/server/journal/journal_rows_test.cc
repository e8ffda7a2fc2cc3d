// Tests of server/journal/journal_rows.cc: the journal's row format.
#include "journal/journal_rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvent;
using ::kessan::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The records of a row, or its error.
absl::StatusOr<std::vector<JournalRecord>> ReadRow(uint64_t first, uint64_t last,
                                                    absl::string_view keys,
                                                    absl::string_view events) {
  RowReader reader(first, last, keys, events);
  std::vector<JournalRecord> records;
  JournalRecord r;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&r);
    if (!more.ok()) return more.status();
    if (!*more) return records;
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
  absl::StatusOr<std::vector<JournalRecord>> read =
      ReadRow(7, 10, row.keys(), row.events());
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
  RowReader reader(3, 4, row.keys(), "");
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
  absl::Status Read(uint64_t first, uint64_t last, absl::string_view keys,
                    absl::string_view events) {
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
  EXPECT_THAT(Read(5, 6, k, e.substr(0, e.size() - 1)),
              damaged("the frame of sequence 6 is cut short"));
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

}  // namespace
}  // namespace kessan
