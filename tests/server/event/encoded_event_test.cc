// Tests of server/event/encoded_event.cc: events encoded once, framed as
// elements of SubscribeResponse.events.
#include "event/encoded_event.h"

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
  absl::StatusOr<EventPtr> read = JournalEvent(5, original->body());
  ASSERT_TRUE(read.ok()) << read.status();
  const EventPtr& lazy = *read;
  EXPECT_EQ(lazy->sequence(), 5u);
  EXPECT_EQ(lazy->frame(), original->frame());
  EXPECT_EQ(lazy->frame_bytes().size(), original->frame_size());
  EXPECT_EQ(lazy->attrs().item_key, original->attrs().item_key);
  EXPECT_THAT(lazy->event(), EqualsProto(original->event()));
}

TEST(EncodedEventTest, SerializedEventsKeepTheirAttributesAndParseOnDemand) {
  EventPtr original = FactEvent(6);
  EventAttrs attrs = original->attrs();
  attrs.concept_id = "as_given";  // kept as given, not recomputed from the bytes
  EventPtr e = EncodeSerialized(original->event(), std::move(attrs));
  EXPECT_EQ(e->sequence(), 6u);
  EXPECT_EQ(e->frame(), original->frame());
  EXPECT_EQ(e->attrs().concept_id, "as_given");
  EXPECT_EQ(e->attrs().revision, 1);
  EXPECT_EQ(e->attrs().time_ns, int64_t{1054166406} * 1000000000);
  EXPECT_THAT(e->event(), EqualsProto(original->event()));
  EXPECT_EQ(e->attrs().concept_id, "as_given");
}

TEST(EncodedEventTest, JournalRowsThatAreNotAnEventAreDataLoss) {
  const std::string body(FactEvent(9)->body());
  for (const std::string& damaged :
       {std::string("\xff\xff\xff"), body.substr(0, body.size() - 3), std::string(),
        std::string(body.size(), '\0'), std::string("\x08\x89")}) {  // last: a cut varint
    EXPECT_THAT(JournalEvent(9, damaged), StatusIs(absl::StatusCode::kDataLoss,
                                                   "journal row of sequence 9 is not a "
                                                   "kessan.v1.FeedEvent"));
  }
}

TEST(EncodedEventTest, AJournalRowWithAnotherSequenceIsDataLoss) {
  EXPECT_THAT(
      JournalEvent(10, FactEvent(9)->body()),
      StatusIs(absl::StatusCode::kDataLoss, "journal row of sequence 10 holds the event of sequence 9"));
}

// Two frames back to back in one buffer, as a journal row holds them.
Bytes TwoFrames(const EventPtr& a, const EventPtr& b) {
  return Bytes::CopyOf(absl::StrCat(a->frame(), b->frame()));
}

TEST(EncodedEventTest, EventsInOneBufferShareItAndKeepTheirBytes) {
  EventPtr a = FactEvent(9);
  EventPtr b = FactEvent(10);
  const Bytes frames = TwoFrames(a, b);
  const size_t split = a->frame_size();
  absl::StatusOr<EventPtr> first = JournalEventIn(9, frames, 0, split, a->frame_size() - a->body().size());
  absl::StatusOr<EventPtr> second =
      JournalEventIn(10, frames, split, frames.size(), b->frame_size() - b->body().size());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*first)->frame(), a->frame());
  EXPECT_EQ((*second)->body(), b->body());
  EXPECT_THAT((*second)->event(), EqualsProto(b->event()));
  // No copy: both frames point into the buffer.
  EXPECT_EQ((*first)->frame().data(), frames.data());
  EXPECT_EQ((*second)->frame().data(), frames.data() + split);
  EXPECT_TRUE((*first)->frame_bytes().SharesBufferWith(frames));
}

TEST(EncodedEventTest, DamagedFramesInABufferAreDataLoss) {
  EventPtr a = FactEvent(9);
  EventPtr b = FactEvent(10);
  const Bytes frames = TwoFrames(a, b);
  const size_t header = a->frame_size() - a->body().size();
  // The first frame cut short, and the second read as sequence 11.
  EXPECT_THAT(
      JournalEventIn(9, frames, 0, a->frame_size() - 3, header),
      StatusIs(absl::StatusCode::kDataLoss, "journal row of sequence 9 is not a kessan.v1.FeedEvent"));
  EXPECT_THAT(
      JournalEventIn(11, frames, a->frame_size(), frames.size(), b->frame_size() - b->body().size()),
      StatusIs(absl::StatusCode::kDataLoss, "journal row of sequence 11 holds the event of sequence 10"));
}

TEST(EncodedEventTest, DamageInsideTheBodyLeavesNoAttributes) {
  // Field 12 (fact), 3 bytes long, holding a truncated varint: the top level
  // is sound, so the row is read; the parse on first use fails.
  std::string body(FactEvent(9)->body().substr(0, 2));  // field 1, sequence 9
  ASSERT_EQ(body, std::string("\x08\x09"));
  body += std::string("\x62\x03\x08\xff\xff");
  absl::StatusOr<EventPtr> read = JournalEvent(9, body);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)->attrs().kind, v1::EVENT_KIND_UNSPECIFIED);
  EXPECT_TRUE((*read)->attrs().item_key.empty());
}

TEST(EncodedEventTest, DecodeRefusesGarbage) {
  EXPECT_THAT(DecodeEvent("\xff\xff\xff"), StatusIs(absl::StatusCode::kDataLoss));
}

// A request's items as PublishItemBodies finds them: each item's one field,
// field 0 for an item that is not that field alone, nothing for bytes whose
// top level does not walk.
TEST(SplicedEventTest, PublishItemBodiesAreTheItemsFields) {
  v1::PublishRequest request = test::Batch(
      {test::Item(test::Iij()), test::Item(test::MakeFact("IIJ", "revenue", test::Quarter(2002, 4))),
       test::Item(test::MakeGuidance("IIJ", "revenue", test::FullYear(2003)))});
  request.set_publisher_id("desk");
  request.add_items();  // empty
  const std::string wire = request.SerializeAsString();
  std::vector<ItemBody> items = PublishItemBodies(wire);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].field, v1::PublishItem::kIssuerFieldNumber);
  EXPECT_EQ(items[0].bytes, request.items(0).issuer().SerializeAsString());
  EXPECT_EQ(items[1].field, v1::PublishItem::kFactFieldNumber);
  EXPECT_EQ(items[1].bytes, request.items(1).fact().SerializeAsString());
  EXPECT_EQ(items[2].field, v1::PublishItem::kGuidanceFieldNumber);
  EXPECT_EQ(items[3].field, 0);

  // The fact given twice in one item (protobuf merges them): not one field.
  v1::PublishItem twice = request.items(1);
  std::string item_bytes = twice.SerializeAsString();
  item_bytes += item_bytes;
  v1::PublishRequest doubled;
  std::string doubled_wire;
  doubled_wire.push_back(static_cast<char>((v1::PublishRequest::kItemsFieldNumber << 3) | 2));
  for (size_t n = item_bytes.size();; n >>= 7) {
    doubled_wire.push_back(static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80));
    if (n < 0x80) break;
  }
  doubled_wire += item_bytes;
  ASSERT_TRUE(doubled.ParseFromString(doubled_wire));
  ASSERT_EQ(doubled.items_size(), 1);
  items = PublishItemBodies(doubled_wire);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].field, 0);

  EXPECT_THAT(PublishItemBodies(wire.substr(0, wire.size() - 3)), testing::IsEmpty());
  EXPECT_THAT(PublishItemBodies(std::string("\xff\xff\xff")), testing::IsEmpty());
}

// A request in pieces (a transport's slices) gives the items it gives whole,
// wherever it is cut: an item across pieces is copied onto the arena.
TEST(SplicedEventTest, PublishItemBodiesOfPiecesAreThoseOfTheWhole) {
  v1::PublishRequest request = test::Batch(
      {test::Item(test::MakeFact("IIJ", "revenue", test::Quarter(2002, 4))),
       test::Item(test::MakeGuidance("IIJ", "revenue", test::FullYear(2003))), test::Item(test::Iij())});
  request.set_publisher_id("desk");
  request.set_omit_events(true);
  const std::string wire = request.SerializeAsString();
  const std::vector<ItemBody> whole = PublishItemBodies(wire);
  ASSERT_EQ(whole.size(), 3u);
  auto same = [&](const std::vector<ItemBody>& items) {
    if (items.size() != whole.size()) return false;
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].field != whole[i].field || items[i].bytes != whole[i].bytes) return false;
    }
    return true;
  };
  google::protobuf::Arena arena;
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    for (size_t second = cut; second <= wire.size(); second += 7) {
      const absl::string_view w(wire);
      const absl::string_view pieces[] = {w.substr(0, cut), w.substr(cut, second - cut), w.substr(second)};
      EXPECT_TRUE(same(PublishItemBodies(pieces, &arena))) << "cut at " << cut << " and " << second;
    }
  }
  // Without an arena an item across pieces cannot be given: nothing is.
  const absl::string_view halves[] = {absl::string_view(wire).substr(0, wire.size() / 2),
                                      absl::string_view(wire).substr(wire.size() / 2)};
  EXPECT_THAT(PublishItemBodies(halves, nullptr), testing::IsEmpty());
  // Cut short: nothing.
  const absl::string_view short_pieces[] = {absl::string_view(wire).substr(0, 10),
                                            absl::string_view(wire).substr(10, wire.size() - 13)};
  EXPECT_THAT(PublishItemBodies(short_pieces, &arena), testing::IsEmpty());
}

// A fact as sent (an alias, no dates, no qualifier, a translation without
// one) and as validated and stamped: the spliced bytes (what validation
// filled written from the message, the rest copied) parse to the validated
// event, and are its serialization when the fields came in field order.
TEST(SplicedEventTest, SplicedBytesParseToTheValidatedEvent) {
  v1::Fact sent = test::MakeFact("11J", "revenue", test::Quarter(2002, 4));
  *sent.add_translations() = test::MakeFact("IIJ", "revenue", test::Quarter(2002, 4), 110).value();
  sent.mutable_translations(0)->mutable_precision()->clear_qualifier();
  auto validate = [](const v1::Fact& as_sent) {
    v1::FeedEvent validated;
    validated.set_sequence(42);
    validated.mutable_time()->set_seconds(1054166400);
    validated.mutable_time()->set_nanos(5);
    v1::Fact& fact = *validated.mutable_fact();
    fact = as_sent;
    fact.mutable_key()->set_issuer("IIJ");
    *fact.mutable_key()->mutable_period()->mutable_start_date() = test::MakeDate(2003, 1, 1);
    *fact.mutable_key()->mutable_period()->mutable_end_date() = test::MakeDate(2003, 3, 31);
    fact.mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
    fact.mutable_translations(0)->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
    fact.set_revision(3);
    fact.set_supersedes_sequence(17);
    *fact.mutable_known_at() = validated.time();
    return validated;
  };
  auto splice = [](const v1::Fact& as_sent, const v1::FeedEvent& validated) -> EventPtr {
    const std::string wire = test::Batch({test::Item(as_sent)}).SerializeAsString();
    std::vector<ItemBody> items = PublishItemBodies(wire);
    EXPECT_EQ(items.size(), 1u);
    if (items.size() != 1 || !CanSplice(validated, items[0])) return nullptr;
    return EncodeSpliced(validated, items[0].bytes,
                         kKeyNormalised | kValueNormalised | kTranslationsNormalised, AttrsOf(validated));
  };

  const v1::FeedEvent validated = validate(sent);
  EventPtr e = splice(sent, validated);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->sequence(), 42u);
  EXPECT_EQ(e->attrs().item_key, AttrsOf(validated).item_key);
  EXPECT_EQ(e->body(), validated.SerializeAsString());
  EXPECT_THAT(e->event(), EqualsProto(validated));
  // Framed as any event: an element of SubscribeResponse.events.
  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(std::string(e->frame())));
  ASSERT_EQ(response.events_size(), 1);
  EXPECT_THAT(response.events(0), EqualsProto(validated));

  // Fields protobuf does not know, at the top level (one with the key's
  // number but another wire type) and inside the provenance, stay where they
  // came: the bytes differ from a serialization and parse the same.
  v1::Fact odd = sent;
  odd.GetReflection()->MutableUnknownFields(&odd)->AddLengthDelimited(40, "kept");
  odd.GetReflection()->MutableUnknownFields(&odd)->AddVarint(v1::Fact::kKeyFieldNumber, 9);
  odd.mutable_provenance()
      ->GetReflection()
      ->MutableUnknownFields(odd.mutable_provenance())
      ->AddFixed32(30, 1);
  const v1::FeedEvent odd_validated = validate(odd);
  e = splice(odd, odd_validated);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->body(), odd_validated.SerializeAsString());
  v1::FeedEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(std::string(e->body())));
  EXPECT_THAT(parsed, EqualsProto(odd_validated));
  EXPECT_EQ(parsed.fact().GetReflection()->GetUnknownFields(parsed.fact()).field_count(), 2);

  // Parts validation left as they came are copied: for a fact sent in full
  // only the stamps are written. Told wrongly that the key was not changed,
  // the splice keeps the sent key.
  v1::FeedEvent full = validated;
  full.mutable_fact()->clear_revision();
  full.mutable_fact()->clear_supersedes_sequence();
  full.mutable_fact()->clear_known_at();
  const std::string full_wire = test::Batch({test::Item(full.fact())}).SerializeAsString();
  std::vector<ItemBody> full_items = PublishItemBodies(full_wire);
  ASSERT_EQ(full_items.size(), 1u);
  e = EncodeSpliced(validated, full_items[0].bytes, 0, AttrsOf(validated));
  EXPECT_EQ(e->body(), validated.SerializeAsString());
#ifdef NDEBUG  // with assertions on, EncodeSpliced aborts on such bytes
  const std::string sent_wire = test::Batch({test::Item(sent)}).SerializeAsString();
  std::vector<ItemBody> sent_items = PublishItemBodies(sent_wire);
  ASSERT_EQ(sent_items.size(), 1u);
  ASSERT_TRUE(parsed.ParseFromString(std::string(
      EncodeSpliced(validated, sent_items[0].bytes, kValueNormalised, AttrsOf(validated))->body())));
  EXPECT_EQ(parsed.fact().key().issuer(), "11J");
  EXPECT_EQ(parsed.fact().value().precision().qualifier(), v1::QUALIFIER_EQUAL);
#endif

  // A body from another field, or of another kind, is not spliced.
  const std::string body = sent.SerializeAsString();
  EXPECT_FALSE(CanSplice(validated, ItemBody{v1::PublishItem::kGuidanceFieldNumber, body}));
  v1::FeedEvent issuer;
  *issuer.mutable_issuer() = test::Iij();
  EXPECT_FALSE(
      CanSplice(issuer, ItemBody{v1::PublishItem::kIssuerFieldNumber, issuer.issuer().SerializeAsString()}));
}

// A length-delimited field: tag, length, payload.
std::string LengthDelimited(int number, const std::string& payload) {
  std::string out;
  auto varint = [&out](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  varint((static_cast<uint64_t>(number) << 3) | 2);
  varint(payload.size());
  return out + payload;
}

// A key whose periods only had their dates filled in keeps its other bytes
// (fields protobuf does not know among them) and gets its periods from the
// message; a period sent twice, which protobuf merges, leaves the key
// serialized whole. Either way the bytes parse to the validated event.
TEST(SplicedEventTest, AKeyWhosePeriodsWereFilledInKeepsItsOtherBytes) {
  v1::Fact sent = test::MakeFact("IIJ", "revenue_growth", test::Quarter(2002, 4));
  sent.mutable_key()->set_segment("network");
  *sent.mutable_key()->mutable_comparison_period() = test::Quarter(2001, 4);
  sent.mutable_key()->GetReflection()->MutableUnknownFields(sent.mutable_key())->AddVarint(30, 5);
  sent.mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
  auto validate = [](const v1::Fact& as_sent) {
    v1::FeedEvent validated;
    validated.set_sequence(7);
    v1::Fact& fact = *validated.mutable_fact();
    fact = as_sent;
    v1::FactKey& key = *fact.mutable_key();
    *key.mutable_period()->mutable_start_date() = test::MakeDate(2003, 1, 1);
    *key.mutable_period()->mutable_end_date() = test::MakeDate(2003, 3, 31);
    *key.mutable_comparison_period()->mutable_start_date() = test::MakeDate(2002, 1, 1);
    *key.mutable_comparison_period()->mutable_end_date() = test::MakeDate(2002, 3, 31);
    fact.set_revision(1);
    return validated;
  };
  // The request's bytes with `fact` as its one item.
  auto request_of = [](const std::string& fact) {
    return LengthDelimited(v1::PublishRequest::kItemsFieldNumber,
                           LengthDelimited(v1::PublishItem::kFactFieldNumber, fact));
  };
  auto splice = [](const std::string& request, const v1::FeedEvent& validated) -> EventPtr {
    std::vector<ItemBody> items = PublishItemBodies(request);
    EXPECT_EQ(items.size(), 1u);
    if (items.size() != 1 || !CanSplice(validated, items[0])) return nullptr;
    return EncodeSpliced(validated, items[0].bytes, kPeriodNormalised, AttrsOf(validated));
  };

  const v1::FeedEvent validated = validate(sent);
  EventPtr e = splice(request_of(sent.SerializeAsString()), validated);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->body(), validated.SerializeAsString());
  EXPECT_THAT(e->event(), EqualsProto(validated));
  EXPECT_EQ(e->event().fact().key().GetReflection()->GetUnknownFields(e->event().fact().key()).field_count(),
            1);

  // The period twice: the second carries the number, which protobuf merges.
  v1::Fact keyless = sent;
  keyless.clear_key();
  v1::FactKey first = sent.key();
  first.mutable_period()->clear_number();
  const std::string second =
      LengthDelimited(v1::FactKey::kPeriodFieldNumber, test::Quarter(2002, 4).SerializeAsString());
  const std::string twice = LengthDelimited(v1::Fact::kKeyFieldNumber, first.SerializeAsString() + second) +
                            keyless.SerializeAsString();
  v1::Fact merged;
  ASSERT_TRUE(merged.ParseFromString(twice));
  EXPECT_THAT(merged.key().period(), EqualsProto(test::Quarter(2002, 4)));
  const v1::FeedEvent merged_validated = validate(merged);
  e = splice(request_of(twice), merged_validated);
  ASSERT_NE(e, nullptr);
  v1::FeedEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(std::string(e->body())));
  EXPECT_THAT(parsed, EqualsProto(merged_validated));

  // A group, which the walk does not take, in the key (the key is serialized
  // whole) or at the top (the event is): the bytes still parse the same.
  for (bool in_key : {true, false}) {
    v1::Fact grouped = sent;
    google::protobuf::Message* holder = in_key
                                            ? static_cast<google::protobuf::Message*>(grouped.mutable_key())
                                            : static_cast<google::protobuf::Message*>(&grouped);
    holder->GetReflection()->MutableUnknownFields(holder)->AddGroup(31)->AddFixed64(1, 7);
    const v1::FeedEvent grouped_validated = validate(grouped);
    e = splice(request_of(grouped.SerializeAsString()), grouped_validated);
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(parsed.ParseFromString(std::string(e->body())));
    EXPECT_THAT(parsed, EqualsProto(grouped_validated)) << (in_key ? "in the key" : "at the top");
  }
}

}  // namespace
}  // namespace kessan
