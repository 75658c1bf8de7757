#include "aggregator/source_watermarks.h"

#include <catch2/catch.hpp>

using namespace ember::aggregator;

namespace {

WatermarkOptions Options() {
  WatermarkOptions o;
  o.allowed_lateness_ms = 100;
  o.max_source_delay_ms = 30'000;
  o.max_future_skew_ms = 60'000;
  o.liveness_ms = 3000;
  o.backfill_hold_ms = 30'000;
  return o;
}

constexpr int64_t kT = 1'700'000'000'000;  // the aggregator's clock at the start

// A stream's key, as StreamMarks::Key makes it.
std::string Key(const std::string& agent, int stream = 1) {
  return agent + '\0' + std::to_string(stream);
}

// `agent` is heard at `now` and delivers lines of its stream /1.log, the newest stamped `newest`.
void Deliver(SourceWatermarks& w, const std::string& agent, int64_t newest, int64_t now) {
  w.Heard(agent, now);
  w.Delivered(Key(agent), agent, "/1.log");
  w.Stamped(Key(agent), newest);
}

}  // namespace

TEST_CASE("SourceWatermarks: no watermark before a stream delivers",
          "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  CHECK_FALSE(w.Watermark(kT).has_value());
  w.Heard("a", kT);
  CHECK_FALSE(w.Watermark(kT).has_value());
}

TEST_CASE("SourceWatermarks: a stream with a backlog holds the watermark at its newest stamp",
          "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  w.Heard("a", kT);
  w.Delivered(Key("a"), "a", "/x.log");
  CHECK_FALSE(w.Watermark(kT).has_value());  // delivered, stamps not read yet
  w.Stamped(Key("a"), kT - 86'400'000);      // yesterday's log
  REQUIRE(w.Watermark(kT).has_value());
  CHECK(*w.Watermark(kT) == kT - 86'400'000 - 100);
  // Still going through the backlog, minutes later: the watermark follows the data, not the
  // clock.
  w.Heard("a", kT + 120'000);
  w.Stamped(Key("a"), kT - 86'000'000);
  CHECK(*w.Watermark(kT + 120'000) == kT - 86'000'000 - 100);
  REQUIRE(w.holder().has_value());
  CHECK(w.holder()->path == "/x.log");
}

TEST_CASE("SourceWatermarks: a stream read to its end follows its agent's clock",
          "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  const std::string k1 = Key("a"), k2 = Key("b", 2);
  w.Heard("a", kT);
  w.Heard("b", kT);
  w.Delivered(k1, "a", "/1.log");
  w.Stamped(k1, kT - 5000);
  w.Delivered(k2, "b", "/2.log");
  w.Stamped(k2, kT - 1000);
  CHECK(*w.Watermark(kT) == kT - 5000 - 100);
  w.Heartbeat(k1, /*at_end=*/true, /*delivered_all=*/true, kT, kT);
  CHECK(*w.Watermark(kT) == kT - 1000 - 100);  // now b holds it
  w.Heartbeat(k2, true, true, kT, kT);
  CHECK(*w.Watermark(kT + 500) == kT + 500 - 100);  // both quiet: the clock
  CHECK_FALSE(w.holder().has_value());
  // A heartbeat whose offset is past what was delivered here (a frame still to be resent)
  // does not count as caught up.
  w.Delivered(k2, "b", "/2.log");
  w.Heartbeat(k2, true, /*delivered_all=*/false, kT + 600, kT + 600);
  w.Stamped(k2, kT + 200);
  CHECK(*w.Watermark(kT + 700) == kT + 500 - 100);  // held at b's stamp (never goes back)
  CHECK(*w.Watermark(kT + 900) == kT + 500 - 100);
}

TEST_CASE(
    "SourceWatermarks: an agent whose clock runs behind holds it back at most "
    "max_source_delay",
    "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  const std::string k = Key("a");
  Deliver(w, "a", kT - 10'000, kT);
  w.Heartbeat(k, true, true, /*agent_now_ms=*/kT - 10'000, kT);  // 10 s behind
  CHECK(*w.Watermark(kT) == kT - 10'000 - 100);
  w.Heard("a", kT + 1000);
  CHECK(*w.Watermark(kT + 1000) == kT + 1000 - 10'000 - 100);

  // Ten minutes behind: held back 30 s, no more.
  SourceWatermarks far(Options());
  Deliver(far, "a", kT - 600'000, kT);
  far.Heartbeat(k, true, true, kT - 600'000, kT);
  CHECK(*far.Watermark(kT) == kT - 30'000 - 100);
  far.Heard("a", kT + 5000);
  CHECK(*far.Watermark(kT + 5000) == kT + 5000 - 30'000 - 100);
}

TEST_CASE(
    "SourceWatermarks: a silent agent holds it back for max_source_delay, then is left "
    "out until it returns",
    "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  const std::string ka = Key("a"), kb = Key("b");
  for (const auto& [key, agent] : {std::pair{ka, "a"}, std::pair{kb, "b"}}) {
    w.Heard(agent, kT);
    w.Delivered(key, agent, "/1.log");
    w.Stamped(key, kT);
    w.Heartbeat(key, true, true, kT, kT);
  }
  // b keeps saying it is at its end; a goes silent at kT.
  for (int64_t t = kT + 1000; t <= kT + 40'000; t += 1000) {
    w.Heard("b", t);
    w.Heartbeat(kb, true, true, t, t);
    const int64_t mark = *w.Watermark(t);
    if (t - kT <= 3000) {
      CHECK(mark == t - 100);  // a is presumed at its end while it may still be alive
    } else if (t - kT <= 30'000) {
      CHECK(mark == kT + 3000 - 100);  // a's last known position holds it
      CHECK(w.holder()->agent == "a");
    } else {
      CHECK(mark == t - 100);  // left out
      CHECK(w.Laggards(t, 1)[0].left_out);
    }
  }
  // a comes back with its backlog: it holds the watermark again from where it now is (which
  // cannot go back: its lines are late).
  Deliver(w, "a", kT + 5000, kT + 41'000);
  CHECK(*w.Watermark(kT + 41'000) == kT + 40'000 - 100);
  CHECK(*w.Watermark(kT + 42'000) == kT + 40'000 - 100);
  w.Heartbeat(ka, true, true, kT + 42'500, kT + 42'500);
  w.Heard("b", kT + 42'500);
  w.Heartbeat(kb, true, true, kT + 42'500, kT + 42'500);
  CHECK(*w.Watermark(kT + 43'000) == kT + 43'000 - 100);
}

TEST_CASE("SourceWatermarks: stamps far in the future are clamped and counted",
          "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  CHECK(w.ClampFuture(kT + 60'000, kT) == kT + 60'000);
  CHECK(w.future_stamps() == 0);
  CHECK(w.ClampFuture(kT + 3'600'000, kT) == kT + 60'000);
  CHECK(w.future_stamps() == 1);
  // And the watermark never passes the clock, whatever the stamps say.
  const std::string k = Key("a");
  Deliver(w, "a", kT + 60'000, kT);
  CHECK(*w.Watermark(kT) == kT - 100);
}

TEST_CASE("SourceWatermarks: positions and the watermark survive a restart",
          "[aggregator][watermark][unit]") {
  SourceWatermarks w(Options());
  const std::string k = Key("a");
  Deliver(w, "a", kT - 7000, kT);
  REQUIRE(w.Watermark(kT).has_value());
  ember::engine::SourcePositions saved = w.Changed();
  CHECK(saved.watermark_ms == kT - 7100);
  REQUIRE(saved.streams.size() == 1);
  CHECK(saved.streams.at(k).position_ms == kT - 7000);
  CHECK(saved.streams.at(k).path == "/1.log");
  w.MarkCommitted();
  CHECK(w.Changed().streams.empty());

  SourceWatermarks after(Options());
  after.Restore(saved, kT + 20'000);
  // The agent has max_source_delay from the restart to come back; until then it holds.
  CHECK(*after.Watermark(kT + 20'000) == kT - 7100);
  CHECK(*after.Watermark(kT + 50'000) == kT - 7100);
  CHECK(*after.Watermark(kT + 50'001) == kT + 50'001 - 100);
}

TEST_CASE("SourceWatermarks: a backlog older than the watermark holds the history floor",
          "[aggregator][watermark][late][unit]") {
  SourceWatermarks w(Options());
  Deliver(w, "live", kT - 500, kT);
  w.Heartbeat(Key("live"), true, true, kT, kT);
  REQUIRE(*w.Watermark(kT) == kT - 100);
  CHECK(w.floor() == kT - 500 - 100);  // its last frame, for max_source_delay
  // An agent backfilling yesterday: the watermark stays (it never goes back), the floor
  // goes back.
  Deliver(w, "old", kT - 86'400'000, kT + 1000);
  CHECK(*w.Watermark(kT + 1000) == kT - 100);
  CHECK(w.floor() == kT - 86'400'000 - 100);
  Deliver(w, "old", kT - 80'000'000, kT + 2000);
  w.Watermark(kT + 2000);
  CHECK(w.floor() == kT - 86'400'000 - 100);  // from where its backlog began
  // Read to its end: its backlog still holds the floor for backfill_hold (another agent may
  // yet bring lines of the same hours), then the floor comes back with the clock.
  w.Heartbeat(Key("old"), true, true, kT + 2000, kT + 2000);
  w.Watermark(kT + 2000);
  CHECK(w.floor() == kT - 86'400'000 - 100);
  w.Heard("old", kT + 32'001);
  w.Heard("live", kT + 32'001);
  w.Watermark(kT + 32'001);
  CHECK(w.floor() == kT + 32'001 - 100);
  // A new backlog after that starts from its own frames; a silent agent past
  // max_source_delay is left out of the floor too.
  Deliver(w, "old", kT - 70'000'000, kT + 33'000);
  w.Watermark(kT + 33'000);
  CHECK(w.floor() == kT - 70'000'000 - 100);
  w.Heard("live", kT + 70'000);
  w.Watermark(kT + 70'000);
  CHECK(w.floor() == kT + 70'000 - 100);
}

TEST_CASE("SourceWatermarks: a stream announced with more to read holds both until its data",
          "[aggregator][watermark][late][unit]") {
  SourceWatermarks w(Options());
  Deliver(w, "a", kT - 86'400'000, kT);
  REQUIRE(*w.Watermark(kT) == kT - 86'400'000 - 100);
  // Agent b says HELLO and names a file with more to read, but has no credit yet.
  w.Heard("b", kT + 100);
  w.Announced(Key("b"), "b", kT + 100);
  w.Heartbeat(Key("b"), /*at_end=*/false, /*delivered_all=*/false, kT + 100, kT + 100);
  // a reads on: neither the watermark nor the floor move while b's file waits.
  Deliver(w, "a", kT - 3'600'000, kT + 5000);
  w.Heard("b", kT + 5000);
  CHECK(*w.Watermark(kT + 5000) == kT - 86'400'000 - 100);
  CHECK(w.floor() == INT64_MIN);
  REQUIRE(w.holder().has_value());
  CHECK(w.holder()->agent == "b");
  CHECK(w.holder()->path == "(nothing delivered yet)");
  // b's first data: b's position counts from then on.
  Deliver(w, "b", kT - 50'000'000, kT + 6000);
  CHECK(*w.Watermark(kT + 6000) == kT - 50'000'000 - 100);
  CHECK(w.floor() == kT - 86'400'000 - 100);  // a's backlog began yesterday
}

TEST_CASE(
    "SourceWatermarks: an announced stream that never delivers is left out after max_source_delay",
    "[aggregator][watermark][late][unit]") {
  WatermarkOptions o = Options();
  o.max_announced = 2;
  SourceWatermarks w(o);
  Deliver(w, "a", kT - 10'000, kT);
  w.Announced(Key("b", 1), "b", kT);
  w.Announced(Key("b", 2), "b", kT);
  w.Announced(Key("b", 3), "b", kT);  // beyond max_announced: ignored, counted
  CHECK(w.refused_announcements() == 1);
  CHECK(w.streams() == 3);
  w.Heard("b", kT + 31'000);  // still heard, never delivers
  Deliver(w, "a", kT - 5000, kT + 31'000);
  CHECK(*w.Watermark(kT + 31'000) == kT - 5000 - 100);
  CHECK(w.floor() == kT - 10'000 - 100);  // a's backlog, not b's announcements
  // Named again by later heartbeats: it is not held again.
  w.Announced(Key("b", 1), "b", kT + 32'000);
  Deliver(w, "a", kT - 4000, kT + 32'000);
  CHECK(*w.Watermark(kT + 32'000) == kT - 4000 - 100);
}
