// ember-loggen, the generator behind the demo and the benchmarks: seeded (same options, same
// bytes), the formats it is asked for in about equal shares, client addresses spread over
// --keys, and a clear error for an unknown format.
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

namespace {

std::string Generate(const TempDir& dir, const std::string& name, std::vector<std::string> extra) {
  std::vector<std::string> argv = {EMBER_LOGGEN_BIN, "-o", dir.Sub(name), "--lines", "40000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = RunCommand(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return ReadFile(dir.Sub(name));
}

}  // namespace

TEST_CASE("ember-loggen: the same seed writes the same bytes, another seed other bytes",
          "[loggen][integration]") {
  TempDir dir;
  const std::vector<std::string> mix = {"--formats", "ssh,app,access,kernel", "--keys", "5000"};
  auto with_seed = [&](const std::string& name, const std::string& seed) {
    auto args = mix;
    args.insert(args.end(), {"--seed", seed});
    return Generate(dir, name, args);
  };
  const std::string a = with_seed("a.log", "7");
  CHECK(a == with_seed("b.log", "7"));
  CHECK(a != with_seed("c.log", "8"));
}

TEST_CASE("ember-loggen: --formats mixes the formats asked for, --keys spreads the addresses",
          "[loggen][integration]") {
  TempDir dir;
  const std::string text =
      Generate(dir, "mix.log",
               {"--formats", "ssh,app,access,kernel", "--keys", "100000", "--error-rate", "0.05"});
  const std::regex ssh(R"(^\w{3} [ \d]\d \d\d:\d\d:\d\d web1 sshd\[\d+\]: )");
  const std::regex app(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z web1 api\[\d+\]: (INFO|WARN|ERROR) )");
  const std::regex access(
      R"(^(10\.\d+\.\d+\.\d+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(GET|POST) \S+ HTTP/1\.1" (\d{3}) \d+ "-" "[^"]+"$)");
  const std::regex kernel(R"(^\w{3} [ \d]\d \d\d:\d\d:\d\d web1 kernel: \[ *\d+\.\d{6}\] )");
  int n_ssh = 0, n_app = 0, n_access = 0, n_kernel = 0, n_5xx = 0, lines = 0;
  std::set<std::string> clients;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    ++lines;
    if (std::regex_search(line, ssh)) {
      ++n_ssh;
    } else if (std::regex_search(line, app)) {
      ++n_app;
    } else if (std::regex_match(line, m, access)) {
      ++n_access;
      clients.insert(m[1]);
      n_5xx += m[3].str()[0] == '5';
    } else if (std::regex_search(line, kernel)) {
      ++n_kernel;
    } else {
      FAIL("a line of no known format: " << line);
    }
  }
  CHECK(lines == 40000);
  // Uniform choice among four (bursts aside): each share well within 20-30 %.
  for (int n : {n_ssh, n_app, n_access, n_kernel}) {
    CHECK(n > 8000);
    CHECK(n < 12000);
  }
  // About 10k access lines over 100k keys: nearly all distinct.
  CHECK(clients.size() > static_cast<size_t>(n_access) * 9 / 10);
  // 5xx at the error rate (5 % of about 10k: 500), not 0 and not most.
  CHECK(n_5xx > 300);
  CHECK(n_5xx < 800);
}

TEST_CASE("ember-loggen: an unknown format is an error naming it", "[loggen][integration]") {
  TempDir dir;
  auto r = RunCommand(
      {EMBER_LOGGEN_BIN, "-o", dir.Sub("x.log"), "--lines", "1", "--formats", "ssh,nginx"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown format 'nginx' (ssh, app, access, kernel)") != std::string::npos);
}
