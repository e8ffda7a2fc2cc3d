// Tests of server/feed/encoded_event.cc: events encoded once, framed as
// elements of SubscribeResponse.events.
#include "feed/encoded_event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::EqualsProto;
using ::kessan::test::FactEvent;
using ::kessan::test::StatusIs;

TEST(EncodedEventTest, BodyIsTheSerializedEvent) {
  EventPtr e = FactEvent(7);
  EXPECT_EQ(e->sequence(), 7u);
  EXPECT_EQ(e->body(), e->event().SerializeAsString());
  EXPECT_EQ(e->attrs().kind, v1::EVENT_KIND_FACT);
  EXPECT_EQ(e->attrs().item_key, "fact:IIJ/c7/FY2002Q4");
}

TEST(EncodedEventTest, FramesConcatenateIntoASubscribeResponse) {
  v1::FeedEvent big = FactEvent(2)->event();
  // Long enough for a three-byte length.
  big.mutable_fact()->mutable_provenance()->set_quote(std::string(20000, 'q'));
  std::vector<EventPtr> events = {FactEvent(1), EncodeEvent(big), FactEvent(3)};

  std::string wire;
  for (const EventPtr& e : events) absl::StrAppend(&wire, e->frame());
  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(wire));
  ASSERT_EQ(response.events_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(response.events(i), EqualsProto(events[i]->event()));
  }
}

TEST(EncodedEventTest, DecodeRoundTrip) {
  EventPtr original = FactEvent(5);
  absl::StatusOr<EventPtr> decoded = DecodeEvent(original->body());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT((*decoded)->event(), EqualsProto(original->event()));
  EXPECT_EQ((*decoded)->frame(), original->frame());
  EXPECT_EQ((*decoded)->attrs().item_key, original->attrs().item_key);
}

TEST(EncodedEventTest, JournalEventsParseOnFirstUse) {
  EventPtr original = FactEvent(5);
  EventPtr lazy = JournalEvent(5, original->body());
  EXPECT_EQ(lazy->sequence(), 5u);
  EXPECT_EQ(lazy->frame(), original->frame());
  EXPECT_EQ(lazy->slice().size(), original->frame_size());
  EXPECT_EQ(lazy->attrs().item_key, original->attrs().item_key);
  EXPECT_THAT(lazy->event(), EqualsProto(original->event()));
}

TEST(EncodedEventTest, SerializedEventsKeepTheirAttributesAndParseOnDemand) {
  EventPtr original = FactEvent(6);
  EventAttrs attrs = original->attrs();
  attrs.concept_id = "as_given";  // kept as given, not recomputed from the bytes
  EventPtr e = EncodeSerialized(original->event(), attrs);
  EXPECT_EQ(e->sequence(), 6u);
  EXPECT_EQ(e->frame(), original->frame());
  EXPECT_EQ(e->attrs().concept_id, "as_given");
  EXPECT_EQ(e->attrs().revision, 1);
  EXPECT_EQ(e->attrs().time_ns, int64_t{1054166406} * 1000000000);
  EXPECT_THAT(e->event(), EqualsProto(original->event()));
  EXPECT_EQ(e->attrs().concept_id, "as_given");
}

TEST(EncodedEventTest, JournalGarbageHasNoAttributes) {
  EventPtr lazy = JournalEvent(9, "\xff\xff\xff");
  EXPECT_EQ(lazy->frame_size(), 5u);
  EXPECT_EQ(lazy->attrs().kind, v1::EVENT_KIND_UNSPECIFIED);
  EXPECT_TRUE(lazy->attrs().item_key.empty());
}

TEST(EncodedEventTest, DecodeRefusesGarbage) {
  EXPECT_THAT(DecodeEvent("\xff\xff\xff"), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace kessan
