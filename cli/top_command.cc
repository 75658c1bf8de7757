// `ember top`: the live full-screen view. Fetches /api/v1/top from the aggregator every batch
// interval and draws it with ANSI escapes on the alternate screen; keys: q quit, s sort,
// / filter, c clear. Not a terminal (or --once): one plain snapshot on stdout.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "aggregator/aggregator_config.h"
#include "cli/commands.h"
#include "cli/state_reader.h"
#include "cli/top_view.h"
#include "common/http_client.h"

namespace ember::cli {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_resized = 0;

struct TopArgs {
  std::string url;
  HttpClientOptions http;  // TLS and credentials
  bool once = false;
  std::string sort = "rate";
  std::string filter;
};

Result<nlohmann::json> Fetch(const std::string& base, HttpClientOptions http) {
  http.timeout_ms = 3000;
  Result<HttpReply> reply = HttpFetch("GET", base + "/api/v1/top", "", {}, http);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::Unavailable("HTTP " + std::to_string(reply->status) + " from " + base +
                               "/api/v1/top: " + reply->body);
  }
  nlohmann::json j = nlohmann::json::parse(reply->body, nullptr, false);
  if (j.is_discarded()) return Status::Unavailable("unreadable JSON from " + base);
  return j;
}

bool Utf8Locale() {
  for (const char* var : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') {
      std::string s(v);
      return s.find("UTF-8") != std::string::npos || s.find("utf8") != std::string::npos ||
             s.find("UTF8") != std::string::npos || s.find("utf-8") != std::string::npos;
    }
  }
  return false;
}

// Restores the terminal however the loop ends.
class RawTerminal {
 public:
  RawTerminal() {
    ok_ = ::tcgetattr(STDIN_FILENO, &saved_) == 0;
    if (ok_) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);
    std::fflush(stdout);
  }
  ~RawTerminal() {
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    if (ok_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool ok_ = false;
};

int RunOnce(const TopArgs& args, TopViewOptions o) {
  Result<nlohmann::json> view = Fetch(args.url, args.http);
  // The aggregator builds the view only while someone asks for it: the first request starts
  // it (503 "warming up"), the next batch has it.
  for (int i = 0; i < 20 && !view.ok() && view.status().message().find("HTTP 503") == 0; ++i) {
    ::usleep(250'000);
    view = Fetch(args.url, args.http);
  }
  if (!view.ok()) {
    std::fprintf(stderr, "ember top: %s\n", view.status().message().c_str());
    return 2;
  }
  const char* cols = std::getenv("COLUMNS");
  o.width = cols != nullptr && std::atoi(cols) > 20 ? std::atoi(cols) : 100;
  o.height = 0;
  for (const auto& line : RenderTopView(*view, o)) std::printf("%s\n", line.c_str());
  return 0;
}

int RunLive(const TopArgs& args, TopViewOptions o) {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = [](int) { g_resized = 1; };
  sigaction(SIGWINCH, &sa, nullptr);
  const char* no_color = std::getenv("NO_COLOR");
  o.color = no_color == nullptr || no_color[0] == '\0';
  o.interactive = true;
  RawTerminal terminal;
  nlohmann::json view = nlohmann::json::object();
  int64_t interval_ms = 1000;
  auto last_fetch = std::chrono::steady_clock::now() - std::chrono::hours(1);
  while (!g_stop) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_fetch >= std::chrono::milliseconds(interval_ms)) {
      last_fetch = now;
      Result<nlohmann::json> fetched = Fetch(args.url, args.http);
      if (fetched.ok()) {
        view = std::move(*fetched);
        o.error.clear();
        // Refreshed every batch, at most 4 times a second.
        interval_ms = std::max<int64_t>(250, view.value("batch_interval_ms", int64_t{1000}));
      } else {
        o.error = fetched.status().message();
        interval_ms = 1000;
      }
    }
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      o.width = ws.ws_col;
      o.height = ws.ws_row;
    }
    g_resized = 0;
    std::string frame = "\x1b[H";
    std::vector<std::string> lines = RenderTopView(view, o);
    for (size_t i = 0; i < lines.size(); ++i) {
      frame += lines[i];
      frame += "\x1b[K";
      if (i + 1 < lines.size()) frame += "\r\n";
    }
    frame += "\x1b[J";
    std::fwrite(frame.data(), 1, frame.size(), stdout);
    std::fflush(stdout);
    // Wait for a key, a resize or the next refresh.
    const auto next = last_fetch + std::chrono::milliseconds(interval_ms);
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  next - std::chrono::steady_clock::now())
                                                  .count()));
    pollfd in{STDIN_FILENO, POLLIN, 0};
    if (::poll(&in, 1, wait_ms) <= 0 || (in.revents & POLLIN) == 0) continue;
    char keys[64];
    const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
    if (n == 0 && (in.revents & POLLHUP)) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char k = keys[i];
      if (o.typing) {
        if (k == '\r' || k == '\n') {
          o.filter = o.typing_filter;
          o.typing = false;
        } else if (k == 27) {
          o.typing = false;
          o.typing_filter.clear();
          o.filter.clear();
        } else if (k == 127 || k == 8) {
          if (!o.typing_filter.empty()) o.typing_filter.pop_back();
        } else if (std::isprint(static_cast<unsigned char>(k))) {
          o.typing_filter += k;
        }
      } else if (k == 'q' || k == 'Q') {
        g_stop = 1;
      } else if (k == 's') {
        o.sort = NextTopSort(o.sort);
      } else if (k == '/') {
        o.typing = true;
        o.typing_filter = o.filter;
      } else if (k == 'c') {
        o.filter.clear();
      }
    }
  }
  return 0;
}

int RunTop(TopArgs args) {
  if (args.url.empty()) {
    std::fprintf(stderr,
                 "ember top: the configuration turns http_listen off; ember top needs it\n");
    return 2;
  }
  while (!args.url.empty() && args.url.back() == '/') args.url.pop_back();
  TopViewOptions o;
  o.source = args.url;
  o.filter = args.filter;
  o.unicode = Utf8Locale();
  bool sort_known = false;
  for (TopSort s : {TopSort::kRate, TopSort::kMatches, TopSort::kFiring, TopSort::kName}) {
    if (args.sort == TopSortName(s)) {
      o.sort = s;
      sort_known = true;
    }
  }
  if (!sort_known) {
    std::fprintf(stderr, "ember top: --sort '%s': use rate, matches, firing or name\n",
                 args.sort.c_str());
    return 2;
  }
  if (args.once || !::isatty(STDOUT_FILENO) || !::isatty(STDIN_FILENO)) return RunOnce(args, o);
  return RunLive(args, o);
}

}  // namespace

void AddTopCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TopArgs>();
  auto where = std::make_shared<AggregatorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "top", "Live view of the aggregator: rule match rates, hottest keys, firing alerts, agents");
  where->AddTo(*cmd, /*with_url=*/true);
  cmd->add_flag("--once", args->once, "Print one plain snapshot and exit (also when not a tty)");
  cmd->add_option("--sort", args->sort, "rate, matches, firing or name")->capture_default_str();
  cmd->add_option("--filter", args->filter, "Only rules (and firing keys) containing this text");
  cmd->callback([args, where, exit_code] {
    if (!where->Resolve("ember top")) {
      *exit_code = 2;
      return;
    }
    args->url = where->url();
    args->http = where->http();
    *exit_code = RunTop(*args);
  });
}

}  // namespace ember::cli
