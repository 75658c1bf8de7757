// KeyTable: the keys of one rule's window, each stored once under a stable id, with the
// running sums of the window (the state of reduceByKeyAndWindow). A batch holding a key takes
// a reference; the entry is freed, and its id reused, when the last one is released. Ids and
// key views stay valid until then. About 64 bytes a key (80 with numeric sums). Not
// thread-safe: owned by a RuleWindow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/stable_vector.h"
#include "engine/open_index.h"

namespace ember::engine {

// Running sums of one key over a window: the aggregates that have an inverse.
struct WindowSum {
  uint64_t count = 0, total = 0, numeric = 0;
  double sum = 0;
  bool empty() const { return count == 0 && total == 0; }
};

class KeyTable {
 public:
  static constexpr uint32_t kNone = OpenIndex::kNone;

  // `numeric_sums`: keep WindowSum::numeric and ::sum (rules with a `value`); without it they
  // read as 0 and cost nothing.
  explicit KeyTable(bool numeric_sums) : numeric_sums_(numeric_sums) {}

  // The id of `key`, or kNone.
  uint32_t Find(std::string_view key) const;
  // The id of `key`, added if absent, with one more reference.
  uint32_t Acquire(std::string_view key);
  // Acquire for a key known to be absent (Find just said so): one lookup fewer.
  uint32_t AcquireNew(std::string_view key);
  // One more reference to a live entry.
  void AddRef(uint32_t id) { ++entries_[id].refs; }
  // Drops a reference; the last one frees the entry (REQUIRES: its sums are empty).
  void Release(uint32_t id);

  std::string_view key(uint32_t id) const { return entries_[id].key; }
  WindowSum sum(uint32_t id) const;
  // Adds `d` to the sums of `id`; true if they were empty before.
  bool AddSum(uint32_t id, const WindowSum& d);
  // Subtracts `d` (REQUIRES: no more than was added); true if the sums are now empty, and then
  // exactly zero (no rounding residue).
  bool SubtractSum(uint32_t id, const WindowSum& d);
  // Empties every entry's sums (a window rebuilt from scratch).
  void ClearSums();
  size_t size() const { return index_.size(); }
  // Makes room for `n` more keys at once (recovery): the index grows once, not twenty times.
  void Reserve(size_t n);

  // Calls f(id, key, count) for every live entry, in no particular order.
  template <class F>
  void ForEach(F f) const {
    for (uint32_t id = 0; id < entries_.size(); ++id) {
      if (entries_[id].refs > 0) f(id, std::string_view(entries_[id].key), entries_[id].count);
    }
  }

 private:
  struct Entry {
    std::string key;
    uint64_t count = 0, total = 0;
    uint32_t refs = 0;  // 0: free
  };
  struct NumericSum {
    uint64_t numeric = 0;
    double sum = 0;
  };
  static uint64_t Hash(std::string_view key);

  const bool numeric_sums_;
  // By id; growing never moves an entry. Blocks of 16: a partition's window of a keyed rule
  // often holds a key or two.
  StableVector<Entry, 16> entries_;
  StableVector<NumericSum, 16> numeric_;  // by id, when numeric_sums_
  std::vector<uint32_t> free_;
  OpenIndex index_;
};

}  // namespace ember::engine
