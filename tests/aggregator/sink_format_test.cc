// What the exec and Alertmanager outputs make of an alert's rule labels and repeats.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "aggregator/sinks/alertmanager_sink.h"
#include "aggregator/sinks/exec_sink.h"
#include "aggregator/sinks/terminal_sink.h"

using namespace ember;

namespace {

engine::Alert LabelledAlert() {
  engine::Alert a;
  a.id = "0123456789abcdef";
  a.rule = "http-5xx-ratio";
  a.fields = {{"vhost", "www.example.com"}};
  a.labels = {{"team", "web"}, {"runbook-url", "https://wiki/5xx"}};
  a.repeat = true;
  a.message = "too many 5xx";
  return a;
}

}  // namespace

TEST_CASE("Outputs: an exec command sees the rule's labels and whether it is a repeat",
          "[aggregator][outputs][unit]") {
  const std::vector<std::string> env = aggregator::ExecSink::AlertEnvironment(LabelledAlert());
  auto has = [&](const std::string& v) {
    return std::find(env.begin(), env.end(), v) != env.end();
  };
  CHECK(has("EMBER_LABEL_TEAM=web"));
  CHECK(has("EMBER_LABEL_RUNBOOK_URL=https://wiki/5xx"));
  CHECK(has("EMBER_FIELD_VHOST=www.example.com"));
  CHECK(has("EMBER_REPEAT=1"));
}

TEST_CASE("Outputs: Alertmanager gets the rule's labels beside the key fields",
          "[aggregator][outputs][unit]") {
  aggregator::AlertmanagerOutput options;
  options.labels = {{"team", "ops"}, {"cluster", "eu1"}};
  const auto j = nlohmann::json::parse(
      aggregator::AlertmanagerSink::ToApiJson(LabelledAlert(), 1000, 2000, options));
  const auto& labels = j.at("labels");
  CHECK(labels.at("team") == "web");  // the rule's label wins over the output's default
  CHECK(labels.at("cluster") == "eu1");
  CHECK(labels.at("runbook_url") == "https://wiki/5xx");
  CHECK(labels.at("vhost") == "www.example.com");
  CHECK(labels.at("alertname") == "http-5xx-ratio");
}

TEST_CASE("Outputs: a late firing says so in every output", "[aggregator][outputs][late][unit]") {
  engine::Alert a = LabelledAlert();
  a.repeat = false;
  a.late = true;
  a.window_start_ms = 1'700'000'000'000;
  a.window_end_ms = 1'700'000'010'000;
  const std::vector<std::string> env = aggregator::ExecSink::AlertEnvironment(a);
  CHECK(std::find(env.begin(), env.end(), "EMBER_LATE=1") != env.end());
  // JSON (JSONL, webhook, exec's stdin) carries it and reads it back.
  const std::string json = engine::AlertToJson(a);
  CHECK(nlohmann::json::parse(json).at("late") == true);
  auto back = engine::AlertFromJson(json);
  REQUIRE(back.ok());
  CHECK(back->late);
  CHECK(nlohmann::json::parse(engine::AlertToJson(LabelledAlert())).count("late") == 0);
  // Alertmanager: labelled, and active one resend interval (no resolve follows it).
  aggregator::AlertmanagerOutput options;
  options.resend_interval_ms = 60'000;
  const auto j = nlohmann::json::parse(
      aggregator::AlertmanagerSink::ToApiJson(a, a.window_end_ms, 1'700'000'100'000, options));
  CHECK(j.at("labels").at("late") == "true");
  CHECK(j.at("endsAt") == engine::FormatIsoMs(1'700'000'160'000));
  CHECK(j.at("annotations").at("window") == "2023-11-14T22:13:20.000Z/2023-11-14T22:13:30.000Z");
  // The terminal.
  CHECK(aggregator::TerminalSink::Format(a, aggregator::TerminalStyle::kPlain).find("LATE") !=
        std::string::npos);
}
