// What the exec and Alertmanager outputs make of an alert's rule labels and repeats.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "aggregator/sinks/alertmanager_sink.h"
#include "aggregator/sinks/exec_sink.h"

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
