// Prometheus text exposition (format 0.0.4): a builder for one scrape's text, a histogram with
// fixed buckets, and a published snapshot the HTTP thread reads. MetricsText and Histogram are
// plain values owned by one thread; PublishedText is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
 public:
  // Starts a metric family: its # HELP and # TYPE lines ("counter", "gauge", "histogram").
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family (or of its _bucket/_sum/_count series).
  void Sample(std::string_view name, double value, const MetricLabels& labels = {});
  // Family + one unlabelled sample.
  void Counter(std::string_view name, std::string_view help, double value);
  void Gauge(std::string_view name, std::string_view help, double value);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Cumulative buckets by upper bound (seconds, say), as Prometheus histograms are.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  void Write(MetricsText& out, std::string_view name, std::string_view help,
             const MetricLabels& labels = {}) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Buckets for durations of a few hundred microseconds to tens of seconds.
std::vector<double> DurationBucketsSeconds();

// The latest rendering of something, set by its owner thread and read by the HTTP thread.
class PublishedText {
 public:
  void Set(std::string text) {
    auto p = std::make_shared<const std::string>(std::move(text));
    std::lock_guard<std::mutex> lock(mu_);
    text_ = std::move(p);
  }
  std::shared_ptr<const std::string> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::string> text_ = std::make_shared<const std::string>();
};

}  // namespace ember
