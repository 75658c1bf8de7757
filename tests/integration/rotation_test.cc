// The rotation conformance suite: a real writer process (ember-test-writer)
// appends numbered lines while the real agent ships them to a real aggregator, and the test
// rotates the file the way logrotate does. Each scenario ends with the exact multiset: every
// sequence number counted once (lost = dup_effect = unexpected = 0), duplicates after a
// crash having been dropped by the aggregator's offset check.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/cluster.h"

using namespace ember::test;
using namespace std::chrono_literals;

namespace {

constexpr int kLines = 6000;
constexpr int kRate = 2000;  // lines per second: each scenario writes for about 3 s

struct Rig {
  Rig() : c(kSeqRule) {
    c.StartAggregator();
    c.StartAgent();
  }
  void StartWriter(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {EMBER_TEST_WRITER_BIN, log(), std::to_string(lines),
                                     std::to_string(kRate)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    writer = std::make_unique<Process>(argv, c.dir.Sub("writer.out"), c.dir.Sub("writer.err"));
  }
  std::string log(const std::string& suffix = "") const {
    return c.dir.Sub("logs/app.log" + suffix);
  }
  // logrotate `create`: rename the live file away, create a new one, tell the writer.
  void RenameRotate(const std::string& to = ".1") {
    REQUIRE(std::rename(log().c_str(), log(to).c_str()) == 0);
    c.dir.Write("logs/app.log", "");
    writer->Signal(SIGHUP);
  }
  // Waits (bounded) until the aggregator counted every line now in `files`, plus `earlier`
  // lines no longer in them (cut away by an earlier truncation).
  size_t WaitCaughtUp(const std::vector<std::string>& files, size_t earlier = 0) {
    size_t lines = earlier;
    for (const auto& f : files) {
      const std::string text = ReadFile(f);
      lines += static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    }
    REQUIRE(WaitUntil([&] { return CommittedCountsByKey(c, "seq").size() >= lines; }, 20s));
    return lines;
  }
  // Stops the writer (SIGSTOP) once the aggregator counted everything in app.log (and the
  // `earlier` lines truncated away before). Returns the lines counted so.
  size_t FreezeWriterCaughtUp(size_t earlier = 0) {
    writer->Signal(SIGSTOP);
    return WaitCaughtUp({log()}, earlier);
  }
  void Finish() {
    REQUIRE(writer->Wait(60s));
    CHECK(writer->exit_code() == 0);
    ExpectSeqExactly(c, lines);
  }
  int lines = kLines;  // the writer's total
  Cluster c;
  std::unique_ptr<Process> writer;
};

void Pause(std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); }

}  // namespace

TEST_CASE("Rotation: rename + create, three times while the writer writes",
          "[rotation][integration]") {
  Rig r;
  r.StartWriter();
  for (int i = 1; i <= 3; ++i) {
    Pause(700ms);
    r.RenameRotate("." + std::to_string(i));
  }
  r.Finish();
}

TEST_CASE("Rotation: delaycompress: the previous file is compressed and deleted one rotation later",
          "[rotation][integration]") {
  Rig r;
  r.StartWriter();
  for (int i = 0; i < 3; ++i) {
    Pause(700ms);
    if (std::filesystem::exists(r.log(".1"))) {
      // app.log.1 -> app.log.2.gz (compressed copy, original deleted), as logrotate does
      // with delaycompress: the agent has had a whole rotation period to finish it.
      auto gz = RunCommand(
          {"/bin/sh", "-c",
           "gzip -c '" + r.log(".1") + "' > '" + r.log(".2.gz") + "' && rm '" + r.log(".1") + "'"});
      REQUIRE(gz.exit_code == 0);
    }
    r.RenameRotate(".1");
  }
  r.Finish();
}

TEST_CASE("Rotation: copytruncate, with the agent caught up before each truncation",
          "[rotation][integration]") {
  // copytruncate itself loses what is written between the copy and the truncation and was
  // not read yet; the writer pauses there so the scenario tests the agent, not logrotate.
  Rig r;
  r.StartWriter();
  // The lines truncated away so far: the aggregator's count includes them, app.log does not.
  size_t truncated = 0;
  for (int i = 0; i < 2; ++i) {
    Pause(800ms);
    truncated = r.FreezeWriterCaughtUp(truncated);
    std::filesystem::copy_file(r.log(), r.log(".1"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(r.log(), 0);
    r.writer->Signal(SIGCONT);
  }
  r.Finish();
  CHECK(ReadFile(r.c.dir.Sub("agent.1.err")).find("truncated") != std::string::npos);
}

TEST_CASE("Rotation: truncated and refilled past the old size while the agent was frozen",
          "[rotation][integration]") {
  // The size never drops below the agent's offset when it looks again: only the changed
  // fingerprint of the first bytes tells the agent this is new content.
  Rig r;
  r.StartWriter();
  Pause(600ms);
  r.FreezeWriterCaughtUp();
  const auto size = std::filesystem::file_size(r.log());
  r.c.agent->Signal(SIGSTOP);
  std::filesystem::resize_file(r.log(), 0);
  r.writer->Signal(SIGCONT);
  REQUIRE(WaitUntil([&] { return std::filesystem::file_size(r.log()) > size + 4096; }, 20s));
  r.c.agent->Signal(SIGCONT);
  r.Finish();
}

TEST_CASE("Rotation: a deleted file still being written is read to its end",
          "[rotation][integration]") {
  Rig r;
  r.StartWriter();
  Pause(600ms);
  r.c.agent->Signal(SIGSTOP);  // unread lines are in the file when it is deleted
  REQUIRE(std::remove(r.log().c_str()) == 0);
  Pause(300ms);              // the writer keeps appending to the deleted file
  r.writer->Signal(SIGHUP);  // then reopens: a new app.log
  r.c.agent->Signal(SIGCONT);
  r.Finish();
}

TEST_CASE("Rotation: a new file that reuses the old inode is a new stream",
          "[rotation][integration]") {
  Rig r;
  r.StartWriter();
  Pause(600ms);
  r.FreezeWriterCaughtUp();
  struct stat before {};
  REQUIRE(::stat(r.log().c_str(), &before) == 0);
  REQUIRE(std::remove(r.log().c_str()) == 0);
  // The writer reopens (O_CREAT) at once: the freed inode is usually handed out again.
  r.writer->Signal(SIGHUP);
  r.writer->Signal(SIGCONT);
  REQUIRE(WaitUntil([&] { return std::filesystem::exists(r.log()); }, 5s));
  struct stat after {};
  REQUIRE(::stat(r.log().c_str(), &after) == 0);
  INFO("inode reused: " << (before.st_ino == after.st_ino ? "yes" : "no"));
  r.Finish();
}

TEST_CASE("Rotation: the agent SIGKILLed during rotation finds the rotated file after restart",
          "[rotation][crash][integration]") {
  Rig r;
  r.StartWriter();
  Pause(800ms);
  r.c.agent->Signal(SIGKILL);
  REQUIRE(r.c.agent->Wait(10s));
  r.RenameRotate(".1");  // app.log.1 matches no glob: found by its inode
  Pause(800ms);
  r.c.StartAgent();
  r.Finish();
  CHECK(ReadFile(r.c.dir.Sub("agent.2.err")).find("while the agent was stopped") !=
        std::string::npos);
}

TEST_CASE("Rotation: the aggregator down while the file rotates twice",
          "[rotation][delivery][integration]") {
  // CI: 3 s down; the full variant: EMBER_OUTAGE_MS=30000.
  const int outage_ms = EnvInt("EMBER_OUTAGE_MS", 3000);
  Rig r;
  r.lines = kRate * (outage_ms / 1000 + 2);  // the writer writes through the whole outage
  r.StartWriter();
  Pause(500ms);
  r.c.aggregator->Signal(SIGKILL);
  REQUIRE(r.c.aggregator->Wait(10s));
  Pause(std::chrono::milliseconds(outage_ms / 3));
  r.RenameRotate(".1");
  Pause(std::chrono::milliseconds(outage_ms / 3));
  REQUIRE(std::rename(r.log(".1").c_str(), r.log(".2").c_str()) == 0);
  r.RenameRotate(".1");
  Pause(std::chrono::milliseconds(outage_ms / 3));
  r.c.StartAggregator();
  r.Finish();
}

TEST_CASE("Rotation: long, binary and partial lines across a rotation", "[rotation][integration]") {
  Rig r;
  r.StartWriter({"--long-every", "97", "--binary-every", "13", "--partial-every", "101"});
  Pause(1000ms);
  r.RenameRotate(".1");
  r.Finish();
  // Lines above max_line_bytes (64 KiB) were cut, flagged and counted, not split.
  CHECK(ReadFile(r.c.dir.Sub("agent.1.err")).find("truncated") != std::string::npos);
}

TEST_CASE("Tailing: 2000 files under an fd budget of 200 lose and repeat nothing",
          "[tail][integration]") {
  Cluster c(kSeqRule);
  c.AddAgentInputs("  max_open_files: 200\n");
  constexpr int kFiles = 2000;
  auto file = [&](int i) { return "logs/f" + std::to_string(i) + ".log"; };
  int seq = 0;
  for (int i = 0; i < kFiles; ++i)
    c.dir.Write(file(i), "seq=" + std::to_string(seq++) + " first\n");
  c.StartAggregator();
  c.StartAgent();
  auto open_fds = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(c.agent->pid()) + "/fd")) {
      ++n;
    }
    return n;
  };
  std::mt19937 rng(7);
  size_t max_fds = 0;
  for (int round = 0; round < 10; ++round) {
    // Appends to 200 random files (some closed for the budget, reopened by identity).
    for (int k = 0; k < 200; ++k) {
      std::string lines;
      for (int j = 0; j < 5; ++j) lines += "seq=" + std::to_string(seq++) + " more\n";
      c.dir.Append(file(static_cast<int>(rng() % kFiles)), lines);
    }
    std::this_thread::sleep_for(300ms);
    max_fds = std::max(max_fds, open_fds());
  }
  ExpectSeqExactly(c, seq);
  // 200 log files at most, plus the agent's own: stdio, ZeroMQ, inotify, the state file.
  INFO("most open fds seen: " << max_fds);
  CHECK(max_fds <= 200 + 30);
}

TEST_CASE(
    "Tailing: a file in a new subdirectory under ** is shipped at once, not at the "
    "next rescan",
    "[integration][tailing]") {
  Cluster c(kCountRule);
  std::string agent = ReadFile(c.dir.Sub("agent.yaml"));
  agent.replace(agent.find("logs/*.log"), 10, "logs/**/*.log");
  // Rescans are 5 minutes apart with inotify: only a watch on the new directory finds it.
  agent.replace(agent.find("poll_interval: 50ms"), 19, "poll_interval: 1s");
  agent.replace(agent.find("rescan_interval: 200ms"), 22, "rescan_interval: 30s");
  c.dir.Write("agent.yaml", agent);
  c.StartAggregator();
  c.StartAgent();
  std::filesystem::create_directories(c.dir.Sub("logs/new"));
  std::this_thread::sleep_for(1500ms);  // the agent sees logs/new (created in a watched dir)
  std::filesystem::create_directories(c.dir.Sub("logs/new/deeper"));
  std::this_thread::sleep_for(500ms);
  c.dir.Write("logs/new/deeper/x.log", "event 1\nevent 2\nevent 3\n");
  CHECK(WaitUntil([&] { return c.CheckpointedMatches() == 3; }, 5s));
}

// Rotated files do not pile up in the aggregator: once the agent has read a rotated file to
// its end and the file is deleted, the agent stops naming its stream, and after
// stream_expiry without a frame the aggregator forgets it (mark and position leave the
// store). Counts stay exact across it.
TEST_CASE("Rotation: the stream of a rotated and deleted file expires from the store",
          "[rotation][integration]") {
  Cluster c(kSeqRule);
  c.dir.Append("aggregator.yaml", "stream_expiry: 1s\n");
  c.StartAggregator();
  c.StartAgent();
  auto seq = [](int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) out += "seq=" + std::to_string(i) + " line\n";
    return out;
  };
  c.dir.Append("logs/app.log", seq(0, 100));
  ExpectSeqExactly(c, 100);
  REQUIRE(std::rename(c.dir.Sub("logs/app.log").c_str(), c.dir.Sub("logs/app.log.1").c_str()) == 0);
  c.dir.Write("logs/app.log", "");
  c.dir.Append("logs/app.log", seq(100, 200));
  ExpectSeqExactly(c, 200);
  REQUIRE(WaitUntil([&] { return c.CheckpointedStreams().size() == 2; }, 10s));
  REQUIRE(std::remove(c.dir.Sub("logs/app.log.1").c_str()) == 0);
  std::this_thread::sleep_for(1500ms);  // longer than stream_expiry without a frame
  c.agent->Signal(SIGTERM);
  REQUIRE(c.agent->Wait(10s));
  c.StartAgent();  // its HELLO names the live file's stream only
  CHECK(WaitUntil([&] { return c.CheckpointedStreams().size() == 1; }, 10s));
  CHECK(Get(Scrape(c.http_port), "ember_streams_expired_total") == 1);
  c.dir.Append("logs/app.log", seq(200, 250));
  ExpectSeqExactly(c, 250);
  // The positions table forgot it too: a restarted aggregator knows one stream.
  c.aggregator->Signal(SIGTERM);
  REQUIRE(c.aggregator->Wait(10s));
  c.StartAggregator();
  CHECK(c.CheckpointedStreams().size() == 1);
  c.dir.Append("logs/app.log", seq(250, 260));
  ExpectSeqExactly(c, 260);
}
