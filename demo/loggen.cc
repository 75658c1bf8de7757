// ember-loggen: a seeded generator of realistic log lines for the demo, the tests and the
// benchmarks. Formats: sshd authentication lines (with brute-force bursts from a few
// addresses), application lines (INFO/WARN with bursts of ERROR), web access lines (Apache /
// nginx combined format, 5xx at the error rate) and kernel lines (OOM kills, segfaults, I/O
// errors). `--keys` spreads the client addresses over that many keys. Same options and seed,
// same bytes; the default (`--formats ssh,app`) is what the benchmarks' README tables used.
//
//   ember-loggen --output app.log --bytes 1GiB --seed 7            # bulk, synthetic times
//   ember-loggen --output app.log --rate 200 --duration 60s        # live, appends as it goes
//   ember-loggen --output mix.log --bytes 1GiB --formats ssh,app,access,kernel --keys 1000000
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/system.h"
#include "common/units.h"

namespace {

const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* kUsers[] = {"root", "admin", "oracle", "test", "ubuntu", "git", "postgres", "pi"};
const char* kPaths[] = {"/api/users", "/api/orders", "/login",    "/static/app.js",
                        "/health",    "/api/search", "/api/cart", "/metrics"};
const char* kAgents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0 Safari/537.36",
    "curl/7.88.1", "Go-http-client/1.1", "python-requests/2.28.1"};
const char* kKernel[] = {"EXT4-fs (sda1): mounted filesystem with ordered data mode",
                         "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex",
                         "TCP: request_sock_TCP: Possible SYN flooding on port 443",
                         "usb 1-1: new high-speed USB device number 3 using xhci_hcd"};
const char* kProcs[] = {"java", "postgres", "node", "python3", "nginx"};
const char* kErrors[] = {
    "database timeout after 5000ms on pool 'main'", "upstream 'payments' returned 502",
    "cannot write session: disk quota exceeded", "failed to decode request body: unexpected EOF"};

struct Options {
  std::string output;
  int64_t bytes = 0;
  int64_t lines = 0;
  double rate = 0;  // lines per second (live mode)
  std::string duration = "60s";
  uint64_t seed = 1;
  double error_rate = 0.01;
  std::string host = "web1";
  int64_t start_ms = 1'700'000'000'000;  // bulk mode's first time stamp
  std::vector<std::string> formats = {"ssh", "app"};
  int64_t keys = 0;  // distinct client addresses; 0: the 750 of the documentation ranges
};

enum class Format { kSsh, kApp, kAccess, kKernel };

// The formats named in `names`, or an error naming the unknown one.
std::optional<std::vector<Format>> ParseFormats(const std::vector<std::string>& names,
                                                std::string* error) {
  std::vector<Format> out;
  for (const auto& n : names) {
    if (n == "ssh")
      out.push_back(Format::kSsh);
    else if (n == "app")
      out.push_back(Format::kApp);
    else if (n == "access")
      out.push_back(Format::kAccess);
    else if (n == "kernel")
      out.push_back(Format::kKernel);
    else {
      *error = "unknown format '" + n + "' (ssh, app, access, kernel)";
      return std::nullopt;
    }
  }
  return out;
}

class Generator {
 public:
  Generator(const Options& o, std::vector<Format> formats)
      : o_(o), formats_(std::move(formats)), rng_(o.seed) {
    // The original two-format mix keeps its exact byte stream.
    mixed_ = formats_ != std::vector<Format>{Format::kSsh, Format::kApp};
  }

  // Appends one line (without '\n') stamped `ms` to *out.
  void Line(int64_t ms, std::string* out) {
    if (burst_left_ > 0) {
      --burst_left_;
      if (burst_is_ssh_) {
        SshFail(ms, burst_ip_, out);
      } else {
        AppLine(ms, "ERROR", kErrors[burst_error_], out);
      }
      return;
    }
    std::uniform_real_distribution<double> u(0, 1);
    double r = u(rng_);
    ++line_no_;
    if (mixed_) {
      MixedLine(ms, r, out);
      return;
    }
    // Bursts: brute force from one address, or an error storm. The first of each comes early
    // so a demo shows alerts within seconds.
    const bool forced = line_no_ == 200 || line_no_ == 700;
    if (forced || r < 0.0005) {
      burst_is_ssh_ = forced ? line_no_ == 200 : u(rng_) < 0.5;
      burst_left_ = burst_is_ssh_ ? 12 : 40;
      burst_ip_ = Ip();
      burst_error_ = rng_() % 4;
    }
    if (r < 0.25) {
      if (u(rng_) < 0.02) {
        SshFail(ms, Ip(), out);
      } else {
        Syslog(ms, "sshd", out);
        *out += fmt::format("Accepted publickey for deploy from {} port {} ssh2", Ip(),
                            1024 + rng_() % 60000);
      }
    } else {
      App(ms, out);
    }
  }

 private:
  void App(int64_t ms, std::string* out) {
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < o_.error_rate) {
      AppLine(ms, "ERROR", kErrors[rng_() % 4], out);
    } else {
      std::string msg = fmt::format("request GET {}/{} status={} took={}ms", kPaths[rng_() % 8],
                                    rng_() % 10000, u(rng_) < 0.97 ? 200 : 404, rng_() % 250);
      AppLine(ms, u(rng_) < 0.05 ? "WARN" : "INFO", msg, out);
    }
  }
  // One line of a format chosen uniformly from --formats (bursts are handled by Line).
  void MixedLine(int64_t ms, double r, std::string* out) {
    std::uniform_real_distribution<double> u(0, 1);
    if (r < 0.0005) {
      burst_is_ssh_ = u(rng_) < 0.5;
      burst_left_ = burst_is_ssh_ ? 12 : 40;
      burst_ip_ = Ip();
      burst_error_ = rng_() % 4;
    }
    switch (formats_[rng_() % formats_.size()]) {
      case Format::kSsh:
        if (u(rng_) < 0.1) {
          SshFail(ms, Ip(), out);
        } else {
          Syslog(ms, "sshd", out);
          *out += fmt::format("Accepted publickey for deploy from {} port {} ssh2", Ip(),
                              1024 + rng_() % 60000);
        }
        return;
      case Format::kApp:
        App(ms, out);
        return;
      case Format::kAccess:
        Access(ms, out);
        return;
      case Format::kKernel:
        Kernel(ms, out);
        return;
    }
  }
  void Access(int64_t ms, std::string* out) {
    std::uniform_real_distribution<double> u(0, 1);
    std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    const double s = u(rng_);
    const int status = s < o_.error_rate ? 500 + static_cast<int>(rng_() % 4)
                       : s < 0.05        ? 404
                       : s < 0.08        ? 304
                                         : 200;
    *out += fmt::format(
        "{} - - [{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000] \"{} {}/{} HTTP/1.1\" {} {} \"-\" "
        "\"{}\"",
        Ip(), tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
        u(rng_) < 0.8 ? "GET" : "POST", kPaths[rng_() % 8], rng_() % 10000, status,
        200 + rng_() % 20000, kAgents[rng_() % 5]);
  }
  void Kernel(int64_t ms, std::string* out) {
    std::uniform_real_distribution<double> u(0, 1);
    Syslog(ms, "kernel", out);
    const double uptime = static_cast<double>(ms - o_.start_ms) / 1000.0 + 1000.0;
    *out += fmt::format("[{:12.6f}] ", uptime);
    const double s = u(rng_);
    if (s < o_.error_rate / 3) {
      *out += fmt::format("Out of memory: Killed process {} ({}) total-vm:{}kB",
                          1000 + rng_() % 30000, kProcs[rng_() % 5], 100000 + rng_() % 4000000);
    } else if (s < 2 * o_.error_rate / 3) {
      *out += fmt::format("{}[{}]: segfault at {:x} ip {:012x} sp {:012x} error 4",
                          kProcs[rng_() % 5], 1000 + rng_() % 30000, rng_() % 65536,
                          rng_() % (1ULL << 47), rng_() % (1ULL << 47));
    } else if (s < o_.error_rate) {
      *out += fmt::format("blk_update_request: I/O error, dev sda, sector {} op 0x0:(READ)",
                          rng_() % 500000000);
    } else {
      *out += kKernel[rng_() % 4];
    }
  }
  std::string Ip() {
    if (o_.keys > 0) {  // 10.0.0.0/8 (private): room for 16M keys
      const uint64_t i = rng_() % static_cast<uint64_t>(o_.keys);
      return fmt::format("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    }
    // Documentation address ranges (RFC 5737): never real hosts.
    static const char* kNets[] = {"203.0.113.", "198.51.100.", "192.0.2."};
    return fmt::format("{}{}", kNets[rng_() % 3], 1 + rng_() % 250);
  }
  // Classic syslog stamps carry no offset: like syslog, the local wall-clock time (which the
  // agent and `ember replay` read in the local zone).
  void Syslog(int64_t ms, const char* prog, std::string* out) {
    std::time_t t = ms / 1000;
    std::tm tm{};
    localtime_r(&t, &tm);
    *out += fmt::format("{} {:2} {:02}:{:02}:{:02} {} {}", kMonths[tm.tm_mon], tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec, o_.host, prog);
    if (std::string_view(prog) != "kernel") *out += fmt::format("[{}]", 1000 + rng_() % 30000);
    *out += ": ";
  }
  void SshFail(int64_t ms, const std::string& ip, std::string* out) {
    Syslog(ms, "sshd", out);
    const char* user = kUsers[rng_() % 8];
    *out += fmt::format("Failed password for {}{} from {} port {} ssh2",
                        rng_() % 2 ? "invalid user " : "", user, ip, 1024 + rng_() % 60000);
  }
  void AppLine(int64_t ms, const char* level, const std::string& msg, std::string* out) {
    std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    *out +=
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} api[{}]: {} {}",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    static_cast<int>(ms % 1000), o_.host, 4000 + rng_() % 8, level, msg);
  }

  const Options& o_;
  std::vector<Format> formats_;
  bool mixed_ = false;
  std::mt19937_64 rng_;
  int64_t line_no_ = 0;
  int burst_left_ = 0;
  bool burst_is_ssh_ = false;
  std::string burst_ip_;
  unsigned burst_error_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember-loggen: writes realistic, seeded log lines", "ember-loggen"};
  Options o;
  std::string bytes_text;
  app.add_option("-o,--output", o.output, "File to append to ('-' for stdout)")->required();
  app.add_option("--bytes", bytes_text, "Bulk mode: write this much (e.g. 100MiB)");
  app.add_option("--lines", o.lines, "Bulk mode: write this many lines");
  app.add_option("--rate", o.rate, "Live mode: lines per second, stamped with the wall clock");
  app.add_option("--duration", o.duration, "Live mode: stop after this long")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Random seed")->capture_default_str();
  app.add_option("--error-rate", o.error_rate, "Share of application lines that are ERROR")
      ->capture_default_str();
  app.add_option("--host", o.host, "Host name written into the lines")->capture_default_str();
  app.add_option("--start-ms", o.start_ms, "Bulk mode: Unix ms of the first line")
      ->capture_default_str();
  app.add_option("--formats", o.formats, "Formats to mix: ssh, app, access, kernel")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--keys", o.keys,
                 "Distinct client addresses (10.0.0.0/8); 0: 750 documentation addresses")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("ember-loggen ") + EMBER_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (!bytes_text.empty()) {
    auto b = ember::ParseSizeBytes(bytes_text);
    if (!b.ok()) {
      std::fprintf(stderr, "ember-loggen: --bytes: %s\n", b.status().message().c_str());
      return 2;
    }
    o.bytes = *b;
  }
  std::FILE* out = o.output == "-" ? stdout : std::fopen(o.output.c_str(), "ab");
  if (out == nullptr) {
    std::fprintf(stderr, "ember-loggen: cannot open '%s'\n", o.output.c_str());
    return 1;
  }
  std::string format_error;
  auto formats = ParseFormats(o.formats, &format_error);
  if (!formats || formats->empty()) {
    std::fprintf(stderr, "ember-loggen: --formats: %s\n",
                 formats ? "name at least one format" : format_error.c_str());
    return 2;
  }
  Generator gen(o, std::move(*formats));
  std::string buf;
  if (o.rate > 0) {
    auto d = ember::ParseDurationMs(o.duration);
    if (!d.ok()) {
      std::fprintf(stderr, "ember-loggen: --duration: %s\n", d.status().message().c_str());
      return 2;
    }
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::milliseconds(*d);
    int64_t written = 0;
    while (std::chrono::steady_clock::now() < end) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto due = static_cast<int64_t>(elapsed * o.rate) + 1;
      buf.clear();
      for (; written < due; ++written) {
        gen.Line(ember::WallClockMs(), &buf);
        buf += '\n';
      }
      std::fwrite(buf.data(), 1, buf.size(), out);
      std::fflush(out);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } else {
    const int64_t max_lines = o.lines > 0 ? o.lines : INT64_MAX;
    const int64_t max_bytes = o.bytes > 0 ? o.bytes : (o.lines > 0 ? INT64_MAX : 100 << 20);
    int64_t lines = 0, bytes = 0, ms = o.start_ms;
    std::mt19937_64 step(o.seed ^ 0x5eed);
    while (lines < max_lines && bytes < max_bytes) {
      buf.clear();
      for (int i = 0; i < 4096 && lines < max_lines && bytes < max_bytes; ++i, ++lines) {
        size_t before = buf.size();
        gen.Line(ms, &buf);
        buf += '\n';
        bytes += static_cast<int64_t>(buf.size() - before);
        ms += static_cast<int64_t>(step() % 20);  // about 100 lines per second
      }
      std::fwrite(buf.data(), 1, buf.size(), out);
    }
  }
  if (out != stdout) std::fclose(out);
  return 0;
}
