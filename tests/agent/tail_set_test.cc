// TailSet against real files: appends, partial lines, rename rotation, truncation, new files.
#include "agent/tail_set.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/wire.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::agent;

namespace {

struct Harness {
  explicit Harness(const test::TempDir& dir) : state_dir(dir.Sub("state")) {
    options.paths = {PathSpec{dir.Sub("*.log"), "app"}};
    options.partial_line_timeout_ms = 1000;
    options.read_chunk_bytes = 64;  // small reads exercise lines split across reads
    options.max_line_bytes = 1024;
  }
  // Polls at `now` and returns the lines of every frame, in order, as "path|line".
  std::vector<std::string> Poll(int64_t now, size_t max_bytes = SIZE_MAX, bool check_files = true) {
    std::vector<std::string> frames;
    tails->Poll(now, 1000, &frames, max_bytes, check_files);
    std::vector<std::string> lines;
    for (const auto& f : frames) {
      auto d = wire::DecodeData(f);
      REQUIRE(d.ok());
      CHECK(d->agent == "a");
      CHECK(d->tag == "app");
      for (auto l : d->lines) lines.push_back(std::string(d->path) + "|" + std::string(l));
      last_end[std::string(d->path)] = d->end_offset;
      last_stream_end[d->stream_id] = d->end_offset;
    }
    return lines;
  }
  // Acknowledges everything sent so far, as the aggregator would after a checkpoint.
  void AckAll(int64_t now) {
    for (const auto& [stream, end] : last_stream_end) tails->OnAck(stream, end, now);
    REQUIRE(store->Flush().ok());
  }
  TailOptions options;
  std::string state_dir;
  std::unique_ptr<OffsetStore> store;
  std::unique_ptr<TailSet> tails;
  std::map<std::string, uint64_t> last_end;
  std::map<uint64_t, uint64_t> last_stream_end;
  // (Re)starts the tail set as a fresh agent process would, from the stored offsets.
  void Start() {
    tails.reset();
    auto s = OffsetStore::Open(state_dir);
    REQUIRE(s.ok());
    store = std::move(*s);
    tails = std::make_unique<TailSet>(options, FrameContext{"a", "h", 4096}, *store);
  }
};

}  // namespace

TEST_CASE("TailSet: appended lines arrive once, in order, across small reads",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "one\r\ntwo\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0) ==
        std::vector<std::string>{dir.Sub("app.log") + "|one", dir.Sub("app.log") + "|two"});
  const std::string three = "three is a much longer line than the 64-byte read chunk we use here";
  dir.Append("app.log", three + "\n");
  auto lines = h.Poll(10);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == dir.Sub("app.log") + "|" + three);
  CHECK(h.Poll(20).empty());
  CHECK(h.last_end[dir.Sub("app.log")] == 9 + three.size() + 1);
}

TEST_CASE("TailSet: a partial last line waits for its newline, or for the timeout",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "done\nhalf");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 1);
  CHECK(h.Poll(500).empty());  // not yet: the writer may finish the line
  dir.Append("app.log", "-finished\nhalf again");
  CHECK(h.Poll(600) == std::vector<std::string>{dir.Sub("app.log") + "|half-finished"});
  CHECK(h.Poll(1000).empty());
  CHECK(h.Poll(1700) == std::vector<std::string>{dir.Sub("app.log") + "|half again"});
}

TEST_CASE("TailSet: rename rotation reads the old file to its end, then the new one",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  const std::string log = dir.Sub("app.log");
  dir.Write("app.log", "a1\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 1);
  dir.Append("app.log", "a2\n");  // written before rotation, not read yet
  REQUIRE(std::rename(log.c_str(), dir.Sub("app.log.1").c_str()) == 0);
  dir.Append("app.log.1", "a3\n");  // the writer still has the old file open
  dir.Write("app.log", "b1\n");     // logrotate `create`
  std::vector<std::string> lines = h.Poll(100);
  // Every line exactly once; the old file's lines under the path it was opened with.
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::string>{log + "|a2", log + "|a3", log + "|b1"});
  CHECK(h.Poll(5000).empty());
}

TEST_CASE("TailSet: a file truncated in place is read again from the start",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "old line one\nold line two\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 2);
  dir.Write("app.log", "new\n");  // copytruncate: same inode, shorter
  CHECK(h.Poll(10) == std::vector<std::string>{dir.Sub("app.log") + "|new"});
  CHECK(h.tails->counters().truncations == 1);
}

TEST_CASE("TailSet: a file truncated and refilled past the read offset between reads starts over",
          "[agent][tail][unit]") {
  // No rotation check runs between the reads (as when the agent is descheduled mid-file):
  // the read itself must notice the new first bytes, or it would ship the new content from
  // the middle and then, once a check noticed, all of it again.
  test::TempDir dir;
  Harness h(dir);
  auto lines = [](const char* prefix, int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += prefix + std::to_string(100 + i) + "\n";
    return text;
  };
  dir.Write("app.log", lines("old-", 40));  // 8 bytes a line
  h.Start();
  h.tails->Rescan(0);
  const auto first = h.Poll(0, 100, false);
  REQUIRE(first.size() >= 12);
  REQUIRE(first.size() < 40);               // stopped mid-file
  dir.Write("app.log", lines("new-", 80));  // same inode, longer than before
  std::vector<std::string> expected;
  for (int i = 0; i < 80; ++i)
    expected.push_back(dir.Sub("app.log") + "|new-" + std::to_string(100 + i));
  CHECK(h.Poll(10, SIZE_MAX, false) == expected);
  CHECK(h.tails->counters().truncations == 1);
  CHECK(h.Poll(20).empty());
}

TEST_CASE("TailSet: read_from end skips old content but reads new files from the start",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.read_from_beginning = false;
  dir.Write("old.log", "history\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).empty());
  dir.Append("old.log", "fresh\n");
  dir.Write("new.log", "first\n");
  h.tails->Rescan(100);
  auto lines = h.Poll(100);
  std::sort(lines.begin(), lines.end());
  CHECK(lines ==
        std::vector<std::string>{dir.Sub("new.log") + "|first", dir.Sub("old.log") + "|fresh"});
}

TEST_CASE("TailSet: an overlong line is truncated and the next line is intact",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.max_line_bytes = 100;
  dir.Write("app.log", std::string(5000, 'z') + "\nafter\n");
  h.Start();
  h.tails->Rescan(0);
  auto lines = h.Poll(0);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == dir.Sub("app.log") + "|" + std::string(100, 'z'));
  CHECK(lines[1] == dir.Sub("app.log") + "|after");
  CHECK(h.tails->counters().truncated_lines == 1);
}

TEST_CASE("TailSet: after a restart reading resumes at the acknowledged offset",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  const std::string log = dir.Sub("app.log");
  dir.Write("app.log", "l1\nl2\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 2);
  h.AckAll(0);
  dir.Append("app.log", "l3\n");
  CHECK(h.Poll(10) == std::vector<std::string>{log + "|l3"});  // sent, never acknowledged
  REQUIRE(h.store->Flush().ok());

  h.Start();  // the agent restarts (after a crash)
  dir.Append("app.log", "l4\n");
  h.tails->Rescan(100);
  // l1 and l2 were acknowledged: not again. l3 was not: sent again, then l4.
  CHECK(h.Poll(100) == std::vector<std::string>{log + "|l3", log + "|l4"});
}

TEST_CASE("TailSet: a reused inode with other content is a new stream read from the start",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.read_from_beginning = false;  // applies to unknown files only
  dir.Write("app.log", "original content line\n");
  h.Start();
  h.tails->Rescan(0);
  dir.Append("app.log", "more\n");
  CHECK(h.Poll(0).size() == 1);
  h.AckAll(0);
  const uint64_t first_stream = h.last_stream_end.begin()->first;
  // While the agent is stopped the file is replaced in place by different content of at
  // least the acknowledged length (same inode: truncate + write, as some tools do).
  dir.Write("app.log", "REPLACED content, longer than before\n");
  h.Start();
  h.last_stream_end.clear();
  h.tails->Rescan(10);
  CHECK(h.Poll(10) ==
        std::vector<std::string>{dir.Sub("app.log") + "|REPLACED content, longer than before"});
  CHECK(h.last_stream_end.count(first_stream) == 0);
}

TEST_CASE("TailSet: a NACK makes the stream go back to the aggregator's mark",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "a\nb\nc\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 3);
  const uint64_t stream = h.last_stream_end.begin()->first;
  h.tails->OnAck(stream, 2, 0);   // "a\n" is durable
  h.tails->OnNack(stream, 4, 0);  // the aggregator holds "a\nb\n" and wants the rest
  CHECK(h.Poll(10) == std::vector<std::string>{dir.Sub("app.log") + "|c"});
  h.tails->OnNack(stream, 4, 20);  // a late echo of the same request: ignored
  CHECK(h.Poll(30).empty());
}

TEST_CASE("TailSet: without acknowledgements the unacknowledged data is sent again",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "x\ny\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 2);
  h.tails->CheckAckTimeouts(0, 1000);
  h.tails->CheckAckTimeouts(500, 1000);
  CHECK(h.Poll(500).empty());
  h.tails->CheckAckTimeouts(1500, 1000);  // the aggregator may have lost them
  CHECK(h.Poll(1500).size() == 2);
  CHECK(h.tails->counters().rewinds == 1);
}

TEST_CASE("TailSet: a rotated file stays open until all of it is acknowledged",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  const std::string log = dir.Sub("app.log");
  dir.Write("app.log", "old\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 1);
  REQUIRE(std::rename(log.c_str(), dir.Sub("app.log.1").c_str()) == 0);
  dir.Write("app.log", "new\n");
  CHECK(h.Poll(100).size() == 1);
  CHECK(h.tails->open_files() == 2);
  h.Poll(60000);  // long quiet, but the old file's line is not acknowledged
  CHECK(h.tails->open_files() == 2);
  h.AckAll(60000);
  h.Poll(60001);
  CHECK(h.tails->open_files() == 1);
}

TEST_CASE("TailSet: ignore_older skips stale files until they are written again",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.ignore_older_ms = 60'000;
  dir.Write("old.log", "stale\n");
  dir.Write("new.log", "fresh\n");
  // old.log was last modified two hours ago.
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 7200, 0}};
  REQUIRE(::utimensat(AT_FDCWD, dir.Sub("old.log").c_str(), times, 0) == 0);
  h.Start();
  const int64_t now = static_cast<int64_t>(::time(nullptr)) * 1000;
  h.tails->Rescan(now);
  CHECK(h.Poll(now) == std::vector<std::string>{dir.Sub("new.log") + "|fresh"});
  dir.Append("old.log", "written again\n");  // mtime is now: it is tailed from the start
  h.tails->Rescan(now + 1000);
  CHECK(h.Poll(now + 1000) == std::vector<std::string>{dir.Sub("old.log") + "|stale",
                                                       dir.Sub("old.log") + "|written again"});
}

TEST_CASE("TailSet: a file rotated away while the agent was stopped is found and read to its end",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("app.log", "a1\na2\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 2);
  h.AckAll(0);
  // The agent stops (it had acknowledgements up to a2); the writer adds a3 and a4, logrotate
  // renames the file to a name no glob matches and creates a new one.
  dir.Append("app.log", "a3\na4\n");
  REQUIRE(std::rename(dir.Sub("app.log").c_str(), dir.Sub("app.log.1").c_str()) == 0);
  dir.Write("app.log", "b1\n");
  // Gone for good: a stream whose file was deleted is forgotten, not searched forever.
  dir.Write("old.log", "x\n");
  h.Start();
  h.tails->Rescan(1);
  CHECK(h.Poll(1).size() == 4);  // a3, a4 (found as app.log.1), b1, and old.log's x
  h.AckAll(1);
  REQUIRE(std::remove(dir.Sub("old.log").c_str()) == 0);
  dir.Append("app.log", "b2\n");
  REQUIRE(std::rename(dir.Sub("app.log").c_str(), dir.Sub("app.log.1").c_str()) == 0);
  dir.Write("app.log", "c1\n");
  h.Start();
  h.tails->Rescan(2);
  auto lines = h.Poll(2);
  std::sort(lines.begin(), lines.end());
  // b2, from the file rotated while stopped (read from its acknowledged byte), and c1.
  CHECK(lines ==
        std::vector<std::string>{dir.Sub("app.log.1") + "|b2", dir.Sub("app.log") + "|c1"});
  CHECK(h.store->size() == 2);  // old.log was forgotten
}

TEST_CASE("TailSet: a rotated file that a glob also matches is read by one reader only",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.paths = {PathSpec{dir.Sub("app.log*"), "app"}};
  dir.Write("app.log", "a1\n");
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0).size() == 1);
  REQUIRE(std::rename(dir.Sub("app.log").c_str(), dir.Sub("app.log.1").c_str()) == 0);
  dir.Write("app.log", "b1\n");
  dir.Append("app.log.1", "a2\n");
  auto lines = h.Poll(1);  // notices the rotation: the old file is read on
  h.tails->Rescan(2);      // the glob finds app.log.1: the same stream, not a second reader
  for (const auto& l : h.Poll(3)) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::string>{dir.Sub("app.log") + "|a2", dir.Sub("app.log") + "|b1"});
  dir.Append("app.log.1", "a3\n");
  lines = h.Poll(4);
  CHECK(lines == std::vector<std::string>{dir.Sub("app.log.1") + "|a3"});
}

TEST_CASE("TailSet: files closed for the fd budget are reopened by identity, even when rotated",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  h.options.max_open_files = 8;
  for (int i = 0; i < 12; ++i) dir.Write("f" + std::to_string(i) + ".log", "x\n");
  h.Start();
  h.tails->Rescan(0);
  size_t lines = 0;
  for (int round = 0; round < 4; ++round) {  // the files wait their turn for an fd
    lines += h.Poll(round).size();
    h.AckAll(round);
    h.tails->Rescan(round);
  }
  CHECK(lines == 12);
  CHECK(h.tails->open_files() == 12);
  CHECK(h.tails->open_fds() <= 8);
  // A closed file grows, and another is appended to and then rotated away while closed.
  dir.Append("f0.log", "grew\n");
  dir.Append("f1.log", "before rotation\n");
  REQUIRE(std::rename(dir.Sub("f1.log").c_str(), dir.Sub("f1.log.1").c_str()) == 0);
  std::vector<std::string> got;
  for (int round = 10; round < 14; ++round) {
    for (const auto& l : h.Poll(round)) got.push_back(l.substr(l.find('|') + 1));
    h.AckAll(round);
  }
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"before rotation", "grew"});
  CHECK(h.tails->open_fds() <= 8);
}

TEST_CASE("TailSet: a symlink matching a glob is followed to its file", "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  const std::string target = dir.Write("elsewhere/real.txt", "via link\n");
  REQUIRE(::symlink(target.c_str(), dir.Sub("linked.log").c_str()) == 0);
  h.Start();
  h.tails->Rescan(0);
  CHECK(h.Poll(0) == std::vector<std::string>{dir.Sub("linked.log") + "|via link"});
  dir.Append("elsewhere/real.txt", "more\n");
  CHECK(h.Poll(1) == std::vector<std::string>{dir.Sub("linked.log") + "|more"});
}

// An ACK for frames sent before a go-back-N rewind can arrive after the rewind: it must move
// the read offset forward too, or unacknowledged bytes (read − acked) wrap below zero and no
// credit is ever free again (an agent stalled this way after an aggregator SIGSTOP).
TEST_CASE("TailSet: an ACK overtaking a rewind moves reading past what it acknowledges",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("a.log", "one\ntwo\nthree\n");
  h.Start();
  h.tails->Rescan(0);
  REQUIRE(h.Poll(0).size() == 3);
  const auto [stream, end] = *h.last_stream_end.begin();
  REQUIRE(end == 14);
  // The aggregator asks for everything again, then the ACK of the first send arrives.
  h.tails->OnNack(stream, 0, 10);
  h.tails->OnAck(stream, end, 20);
  CHECK(h.tails->UnackedBytes() == 0);
  CHECK(h.tails->AllAcked());
  // Reading goes on after the acknowledged bytes: the new line only, nothing again.
  dir.Append("a.log", "four\n");
  CHECK(h.Poll(5000) == std::vector<std::string>{dir.Sub("a.log") + "|four"});
}

// --- Offsets from the aggregator are validated ---

TEST_CASE("TailSet: an ACK beyond what was sent is refused and the file goes on as a new stream",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("a.log", "one\ntwo\n");
  h.Start();
  h.tails->Rescan(0);
  REQUIRE(h.Poll(0).size() == 2);
  const auto [stream, end] = *h.last_stream_end.begin();
  h.tails->OnAck(stream, 4, 1);  // "one\n" is durable
  // A forged mark: 10^9 bytes ahead of a 8-byte file.
  h.tails->OnAck(stream, 1'000'000'000, 2);
  CHECK(h.tails->counters().refused_offsets == 1);
  CHECK(h.tails->counters().restreams == 1);
  // Nothing is silenced: what was not acknowledged is sent again under a new stream that
  // begins at the acknowledged byte, and new lines follow.
  dir.Append("a.log", "three\n");
  h.last_stream_end.clear();
  CHECK(h.Poll(10) ==
        std::vector<std::string>{dir.Sub("a.log") + "|two", dir.Sub("a.log") + "|three"});
  REQUIRE(h.last_stream_end.size() == 1);
  CHECK(h.last_stream_end.begin()->first != stream);
  CHECK(h.last_stream_end.begin()->second == 14);
  // The old stream's offsets no longer move anything.
  h.tails->OnAck(stream, 14, 20);
  CHECK(h.tails->UnackedBytes() == 10);
}

TEST_CASE("TailSet: an ACK going backwards is refused and changes nothing", "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("a.log", "one\ntwo\n");
  h.Start();
  h.tails->Rescan(0);
  REQUIRE(h.Poll(0).size() == 2);
  const auto [stream, end] = *h.last_stream_end.begin();
  h.tails->OnAck(stream, 8, 1);
  h.tails->OnAck(stream, 8, 2);  // a repeated ACK is normal
  CHECK(h.tails->counters().refused_offsets == 0);
  h.tails->OnAck(stream, 4, 3);
  CHECK(h.tails->counters().refused_offsets == 1);
  CHECK(h.tails->counters().restreams == 0);
  CHECK(h.tails->AllAcked());
  CHECK(h.Poll(10).empty());
}

TEST_CASE("TailSet: a resend request beyond what was sent is refused, and the stream goes on",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("a.log", "one\ntwo\n");
  h.Start();
  h.tails->Rescan(0);
  REQUIRE(h.Poll(0).size() == 2);
  const auto [stream, end] = *h.last_stream_end.begin();
  h.tails->OnNack(stream, 500, 1);
  CHECK(h.tails->counters().refused_offsets == 1);
  CHECK(h.tails->counters().restreams == 1);
  h.last_stream_end.clear();
  CHECK(h.Poll(10).size() == 2);  // nothing was acknowledged: both lines, new stream
  CHECK(h.last_stream_end.begin()->first != stream);
}

TEST_CASE("TailSet: a WELCOME mark past the file's end is refused, one within it is taken",
          "[agent][tail][unit]") {
  test::TempDir dir;
  Harness h(dir);
  dir.Write("a.log", "one\ntwo\nthree\n");
  h.Start();
  h.tails->Rescan(0);
  REQUIRE(h.Poll(0).size() == 3);
  const uint64_t stream = h.last_stream_end.begin()->first;
  h.tails->OnAck(stream, 4, 1);
  REQUIRE(h.store->Flush().ok());
  // A restart: the agent knows byte 4 is acknowledged; the aggregator held up to byte 8
  // (its ACK never reached the agent): a legitimate mark ahead of the stored offset.
  h.Start();
  h.tails->Rescan(10);
  h.tails->Resync({{stream, 8}}, 10);
  CHECK(h.tails->counters().refused_offsets == 0);
  CHECK(h.Poll(20) == std::vector<std::string>{dir.Sub("a.log") + "|three"});
  // Another restart, and a mark far past the 14-byte file: refused, read again from byte 8.
  REQUIRE(h.store->Flush().ok());
  h.Start();
  h.tails->Rescan(40);
  h.tails->Resync({{stream, 1u << 30}}, 40);
  CHECK(h.tails->counters().refused_offsets == 1);
  CHECK(h.tails->counters().restreams == 1);
  h.last_stream_end.clear();
  CHECK(h.Poll(50) == std::vector<std::string>{dir.Sub("a.log") + "|three"});
  CHECK(h.last_stream_end.begin()->first != stream);
}

// --- No line can stall a stream ---

// The agent's flow control, as its loop applies it: read while the bytes in frames not yet
// acknowledged stay within the credit. The aggregator acknowledges a round's frames after it.
TEST_CASE("TailSet: lines longer than the credit never stall any file (random lengths, credits)",
          "[agent][tail][unit]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 12; ++trial) {
    test::TempDir dir;
    Harness h(dir);
    h.options.read_chunk_bytes = 4096;
    h.options.max_line_bytes = 1024 + rng() % 4096;
    const uint64_t credit = 256 + rng() % 8192;
    // Three files; every line has a random length, some far longer than the credit and
    // max_line_bytes; the expected lines are what the splitter makes of them.
    std::map<std::string, std::vector<std::string>> expected;
    for (const char* name : {"a.log", "b.log", "c.log"}) {
      std::string content;
      for (int i = 0; i < 30; ++i) {
        const size_t len = rng() % 8 == 0 ? 10'000 + rng() % 60'000 : rng() % 200;
        std::string line = std::string(name) + "#" + std::to_string(i) + ":" +
                           std::string(len, static_cast<char>('a' + i % 26));
        content += line + "\n";
        expected[dir.Sub(name)].push_back(line.substr(0, h.options.max_line_bytes));
      }
      dir.Write(name, content);
    }
    h.Start();
    h.tails->Rescan(0);
    std::map<std::string, std::vector<std::string>> got;
    for (int round = 0; round < 2000; ++round) {
      const uint64_t in_flight = h.tails->InFlightBytes();
      REQUIRE(in_flight <= credit + h.options.read_chunk_bytes + 1024);
      const uint64_t budget = credit > in_flight ? credit - in_flight : 0;
      std::vector<std::string> frames;
      if (budget > 0) h.tails->Poll(round, 16, &frames, budget);
      for (const auto& f : frames) {
        auto d = wire::DecodeData(f);
        REQUIRE(d.ok());
        for (auto l : d->lines) got[std::string(d->path)].push_back(std::string(l));
        h.last_stream_end[d->stream_id] = d->end_offset;
      }
      h.AckAll(round);
      if (got == expected) break;
    }
    INFO("trial " << trial << ", credit " << credit << ", max_line_bytes "
                  << h.options.max_line_bytes);
    CHECK(got == expected);
  }
}
