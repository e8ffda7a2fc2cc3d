// Tests of server/rpc/wire.cc: a response's ByteBuffer shares the events'
// frames and keeps them alive exactly as long as gRPC holds it.
#include "rpc/wire.h"

#include <gmock/gmock.h>
#include <grpcpp/support/slice.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvents;
using ::kessan::test::Frames;
using ::testing::SizeIs;

std::string BufferBytes(const grpc::ByteBuffer& buffer, std::vector<grpc::Slice>* slices) {
  EXPECT_TRUE(buffer.Dump(slices).ok());
  std::string out;
  for (const grpc::Slice& s : *slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

TEST(WireBuilderTest, AResponseIsTheFramesWithoutACopy) {
  std::vector<EventPtr> events = FactEvents(1, 6);
  std::vector<WireRunPtr> runs = {
      std::make_shared<const WireRun>(std::vector<EventPtr>(events.begin() + 2, events.end()))};
  WireBuilder builder;
  grpc::ByteBuffer buffer;
  builder.Build(events, runs, &buffer);
  std::vector<grpc::Slice> slices;
  EXPECT_EQ(BufferBytes(buffer, &slices), Frames(events));
  // Two own frames, then one range of the run: the run's memory, not a copy.
  ASSERT_THAT(slices, SizeIs(3));
  EXPECT_EQ(reinterpret_cast<const char*>(slices[0].begin()), events[0]->frame().data());
  EXPECT_EQ(reinterpret_cast<const char*>(slices[2].begin()), runs[0]->bytes().data());
}

TEST(WireBuilderTest, TheBufferKeepsItsEventsAliveAndThenLeavesNoReferenceBehind) {
  std::vector<EventPtr> events = FactEvents(1, 3);
  auto run = std::make_shared<const WireRun>(events);
  std::weak_ptr<const EncodedEvent> first = events[0];
  std::weak_ptr<const WireRun> weak_run = run;
  WireBuilder builder;
  {
    grpc::ByteBuffer buffer;
    builder.Build(std::move(events), {std::move(run)}, &buffer);
    EXPECT_FALSE(first.expired());
    EXPECT_FALSE(weak_run.expired());
    std::vector<grpc::Slice> slices;
    EXPECT_EQ(BufferBytes(buffer, &slices).size(), weak_run.lock()->bytes().size());
  }
  // The buffer (and the dumped slices) gone: nothing holds them.
  EXPECT_TRUE(first.expired());
  EXPECT_TRUE(weak_run.expired());
}

TEST(WireBuilderTest, ABuilderReusedReleasesTheResponseBefore) {
  WireBuilder builder;
  grpc::ByteBuffer buffer;
  std::vector<EventPtr> a = FactEvents(1, 2);
  std::weak_ptr<const EncodedEvent> weak_a = a[0];
  builder.Build(std::move(a), {}, &buffer);
  std::vector<EventPtr> b = FactEvents(3, 2);
  const std::string expected = Frames(b);
  builder.Build(std::move(b), {}, &buffer);
  EXPECT_TRUE(weak_a.expired());
  std::vector<grpc::Slice> slices;
  EXPECT_EQ(BufferBytes(buffer, &slices), expected);
}

}  // namespace
}  // namespace kessan
