// BatchSet: a set of batch numbers that is cheap to add to in the order matches come (mostly
// ascending, the same batch many times in a row): an append to a vector, where a tree set
// cost a node allocation and a rebalance per batch. Kept sorted and unique lazily, when read
// or when out-of-order appends have doubled it, so it never holds more than about twice the
// distinct batches. Not thread-safe: owned by one RuleWindow.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ember::engine {

class BatchSet {
 public:
  void Insert(int64_t batch) {
    if (!batches_.empty()) {
      if (batches_.back() == batch) return;
      if (batch < batches_.back()) sorted_ = false;
    }
    batches_.push_back(batch);
    if (!sorted_ && batches_.size() >= 2 * compacted_size_ + kSlack) Compact();
  }
  bool Contains(int64_t batch) {
    Compact();
    return std::binary_search(batches_.begin(), batches_.end(), batch);
  }
  // Every batch inserted since the last Take, ascending, each once; leaves the set empty.
  std::vector<int64_t> Take() {
    Compact();
    std::vector<int64_t> out = std::move(batches_);
    batches_.clear();
    compacted_size_ = 0;
    return out;
  }
  bool empty() const { return batches_.empty(); }
  size_t stored() const { return batches_.size(); }  // entries held, repeats included

 private:
  static constexpr size_t kSlack = 64;  // appends before the first compaction
  void Compact() {
    if (sorted_) return;
    std::sort(batches_.begin(), batches_.end());
    batches_.erase(std::unique(batches_.begin(), batches_.end()), batches_.end());
    compacted_size_ = batches_.size();
    sorted_ = true;
  }
  std::vector<int64_t> batches_;
  size_t compacted_size_ = 0;
  bool sorted_ = true;  // ascending and unique
};

}  // namespace ember::engine
