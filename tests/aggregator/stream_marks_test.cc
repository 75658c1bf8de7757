// The delivery rule, case by case, and against a model over random frame sequences.
#include "aggregator/stream_marks.h"

#include <random>

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::aggregator;

namespace {
constexpr auto kAccept = FrameVerdict::kAccept;
constexpr auto kDuplicate = FrameVerdict::kDuplicate;
constexpr auto kResend = FrameVerdict::kResend;
}  // namespace

TEST_CASE("StreamMarks: a new stream is accepted at its origin only", "[aggregator][unit]") {
  StreamMarks m;
  CHECK(m.Offer("r", "a", 1, 100, 150, 200) == FrameDecision{kResend, 100});
  CHECK(m.Offer("r", "a", 1, 100, 100, 200) == FrameDecision{kAccept, 200});
  // An empty stream that begins at 0.
  CHECK(m.Offer("r", "a", 2, 0, 0, 0) == FrameDecision{kAccept, 0});
}

TEST_CASE("StreamMarks: a known stream is accepted at its mark only", "[aggregator][unit]") {
  StreamMarks m;
  REQUIRE(m.Offer("r", "a", 1, 0, 0, 100).verdict == kAccept);
  SECTION("at the mark") {
    CHECK(m.Offer("r", "a", 1, 0, 100, 180) == FrameDecision{kAccept, 180});
  }
  SECTION("wholly below it: a duplicate, acknowledged at the mark") {
    CHECK(m.Offer("r", "a", 1, 0, 0, 100) == FrameDecision{kDuplicate, 100});
    CHECK(m.Offer("r", "a", 1, 0, 40, 60) == FrameDecision{kDuplicate, 100});
  }
  SECTION("straddling it: resend from the mark") {
    CHECK(m.Offer("r", "a", 1, 0, 50, 150) == FrameDecision{kResend, 100});
  }
  SECTION("past it (a gap): resend from the mark") {
    CHECK(m.Offer("r", "a", 1, 0, 120, 150) == FrameDecision{kResend, 100});
  }
  SECTION("a frame that claims another origin changes nothing") {
    CHECK(m.Offer("r", "a", 1, 50, 120, 150) == FrameDecision{kResend, 100});
  }
}

TEST_CASE("StreamMarks: streams are told apart by agent and stream id", "[aggregator][unit]") {
  StreamMarks m;
  REQUIRE(m.Offer("r1", "a", 1, 0, 0, 100).verdict == kAccept);
  CHECK(m.Offer("r2", "b", 1, 0, 0, 50) == FrameDecision{kAccept, 50});
  CHECK(m.Offer("r1", "a", 2, 0, 0, 10) == FrameDecision{kAccept, 10});
  CHECK(m.streams() == 3);
  CHECK(StreamMarks::Key("a", 7) == std::string("a\0"
                                                "7",
                                                3));
}

TEST_CASE("StreamMarks: marks are committed, and acknowledged, only with a checkpoint",
          "[aggregator][unit]") {
  StreamMarks m;
  m.Restore({{StreamMarks::Key("a", 1), 100}});
  CHECK(m.CommittedMark("a", 1) == 100u);
  CHECK_FALSE(m.CommittedMark("a", 2).has_value());
  REQUIRE(m.Offer("r1", "a", 1, 0, 100, 200).verdict == kAccept);
  REQUIRE(m.Offer("r1", "a", 1, 0, 200, 260).verdict == kAccept);
  REQUIRE(m.Offer("r2", "a", 1, 0, 0, 100).verdict == kDuplicate);
  CHECK(m.CommittedMark("a", 1) == 100u);  // WELCOME tells only what is durable
  CHECK(m.moved() == std::map<std::string, uint64_t>{{StreamMarks::Key("a", 1), 260}});
  CHECK(m.acks_owed());
  auto acks = m.Committed();
  CHECK(m.CommittedMark("a", 1) == 260u);
  CHECK(m.moved().empty());
  CHECK_FALSE(m.acks_owed());
  REQUIRE(acks.size() == 2);
  REQUIRE(acks["r1"].size() == 1);
  CHECK(acks["r1"][0].stream_id == 1);
  CHECK(acks["r1"][0].offset == 260);
  REQUIRE(acks["r2"].size() == 1);
  CHECK(acks["r2"][0].offset == 260);  // the duplicate's connection learns the mark
  CHECK(m.Committed().empty());
}

TEST_CASE("StreamMarks: a failed checkpoint keeps the moved marks and ACKs for the next one",
          "[aggregator][unit]") {
  StreamMarks m;
  REQUIRE(m.Offer("r", "a", 1, 0, 0, 10).verdict == kAccept);
  // The commit failed: nothing called Committed(); more arrives.
  REQUIRE(m.Offer("r", "a", 1, 0, 10, 20).verdict == kAccept);
  CHECK(m.moved().at(StreamMarks::Key("a", 1)) == 20);
  auto acks = m.Committed();
  CHECK(acks["r"][0].offset == 20);
}

// Model: a stream's bytes arrive as frames cut at random, resent, reordered and lost, as
// go-back-N after losses would produce them. Accepted frames must tile the stream exactly
// (no byte twice, no gap) and the mark must be the end of the last one.
TEST_CASE("StreamMarks: random resends, gaps and duplicates never accept a byte twice or skip one",
          "[aggregator][unit]") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    StreamMarks m;
    const uint64_t origin = rng() % 3 == 0 ? rng() % 1000 : 0;
    uint64_t accepted_until = origin;
    bool seen = false;
    for (int step = 0; step < 200; ++step) {
      const uint64_t start = origin + rng() % 400;
      const uint64_t end = start + rng() % 50;
      const FrameDecision d = m.Offer("r", "a", 9, origin, start, end);
      if (!seen) {
        CHECK(d ==
              (start == origin ? FrameDecision{kAccept, end} : FrameDecision{kResend, origin}));
      } else if (start == accepted_until) {
        CHECK(d == FrameDecision{kAccept, end});
      } else if (end <= accepted_until) {
        CHECK(d == FrameDecision{kDuplicate, accepted_until});
      } else {
        CHECK(d == FrameDecision{kResend, accepted_until});
      }
      if (d.verdict == kAccept) {
        REQUIRE(start == accepted_until);
        accepted_until = end;
        seen = true;
      }
      if (rng() % 10 == 0) m.Committed();
    }
    m.Committed();
    if (seen) CHECK(m.CommittedMark("a", 9) == accepted_until);
  }
}

TEST_CASE("StreamMarks: an agent has at most max_streams_per_agent streams", "[aggregator][unit]") {
  StreamMarks m(/*max_streams_per_agent=*/2);
  m.Restore({{StreamMarks::Key("a", 1), 10}});
  CHECK(m.Offer("r", "a", 2, 0, 0, 5).verdict == kAccept);
  CHECK(m.Offer("r", "a", 3, 0, 0, 5) == FrameDecision{FrameVerdict::kRefused, 0});
  // Known streams go on; other agents have their own allowance.
  CHECK(m.Offer("r", "a", 1, 0, 10, 20).verdict == kAccept);
  CHECK(m.Offer("r", "b", 3, 0, 0, 5).verdict == kAccept);
  CHECK(m.streams() == 3);
}

// Expiry: a stream goes only when its agent's HELLO no longer names it and it sent nothing for
// the expiry time; it then frees its place under max_streams_per_agent, and the next commit
// deletes it (forgotten()).
TEST_CASE("StreamMarks: streams no longer named and idle are forgotten", "[aggregator][unit]") {
  StreamMarks m(/*max_streams_per_agent=*/2);
  REQUIRE(m.Offer("r", "a", 1, 0, 0, 100).verdict == kAccept);
  m.Seen("a", 1, 1'000);
  REQUIRE(m.Offer("r", "a", 2, 0, 0, 50).verdict == kAccept);
  m.Seen("a", 2, 1'000);
  REQUIRE(m.Offer("r", "b", 1, 0, 0, 10).verdict == kAccept);
  m.Seen("b", 1, 1'000);
  m.Committed();
  CHECK(m.Offer("r", "a", 3, 0, 0, 10).verdict == FrameVerdict::kRefused);  // the bound

  // Named, or not idle long enough: kept.
  CHECK(m.ExpireUnannounced("a", {1, 2}, 100'000, 10'000).empty());
  CHECK(m.ExpireUnannounced("a", {1}, 5'000, 10'000).empty());
  // Stream 2 is no longer named and idle for 10 s: forgotten; stream 1 and agent b's stay.
  CHECK(m.ExpireUnannounced("a", {1}, 11'000, 10'000) ==
        std::vector<std::string>{StreamMarks::Key("a", 2)});
  CHECK(m.forgotten() == std::set<std::string>{StreamMarks::Key("a", 2)});
  CHECK_FALSE(m.Mark("a", 2));
  CHECK_FALSE(m.CommittedMark("a", 2));
  CHECK(m.Mark("a", 1) == 100u);
  CHECK(m.Mark("b", 1) == 10u);
  // Its place is free again; the next commit clears the list.
  CHECK(m.Offer("r", "a", 3, 0, 0, 10).verdict == kAccept);
  m.Committed();
  CHECK(m.forgotten().empty());
  // A forgotten stream that comes back is a new stream again: from its origin only.
  CHECK(m.Offer("r", "a", 2, 0, 50, 80) == FrameDecision{kResend, 0});
}

TEST_CASE("StreamMarks: restored streams count as seen at the first expiry check",
          "[aggregator][unit]") {
  StreamMarks m;
  m.Restore({{StreamMarks::Key("a", 7), 40}});
  // The process has just started: the restored stream's idle time starts now.
  CHECK(m.ExpireUnannounced("a", {}, 50'000, 10'000).empty());
  CHECK(m.ExpireUnannounced("a", {}, 59'000, 10'000).empty());
  CHECK(m.ExpireUnannounced("a", {}, 60'000, 10'000).size() == 1);
}

TEST_CASE("StreamMarks: all agents together have at most max_streams", "[aggregator][unit]") {
  StreamMarks m(/*max_streams_per_agent=*/10, /*max_streams=*/3);
  CHECK(m.Offer("r", "a", 1, 0, 0, 1).verdict == kAccept);
  CHECK(m.Offer("r", "b", 1, 0, 0, 1).verdict == kAccept);
  CHECK(m.Offer("r", "c", 1, 0, 0, 1).verdict == kAccept);
  CHECK(m.Offer("r", "d", 1, 0, 0, 1).verdict == FrameVerdict::kRefused);
  CHECK(m.Offer("r", "a", 2, 0, 0, 1).verdict == FrameVerdict::kRefused);
  // Known streams go on.
  CHECK(m.Offer("r", "a", 1, 0, 1, 2).verdict == kAccept);
  CHECK(m.streams() == 3);
}
