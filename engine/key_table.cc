#include "engine/key_table.h"

#include <cassert>
#include <functional>

namespace ember::engine {

uint64_t KeyTable::Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

uint32_t KeyTable::Find(std::string_view key) const {
  return index_.Find(Hash(key), [&](uint32_t id) { return entries_[id].key == key; });
}

uint32_t KeyTable::Acquire(std::string_view key) {
  const uint32_t id = Find(key);
  if (id == kNone) return AcquireNew(key);
  ++entries_[id].refs;
  return id;
}

uint32_t KeyTable::AcquireNew(std::string_view key) {
  assert(Find(key) == kNone);
  uint32_t id;
  if (free_.empty()) {
    id = static_cast<uint32_t>(entries_.size());
    assert(id != kNone);
    entries_.emplace_back();
    if (numeric_sums_) numeric_.emplace_back();
  } else {
    id = free_.back();
    free_.pop_back();
  }
  Entry& e = entries_[id];
  e.key.assign(key);
  e.count = e.total = 0;
  e.refs = 1;
  if (numeric_sums_) numeric_[id] = NumericSum{};
  index_.Insert(Hash(key), id, [&](uint32_t i) { return Hash(entries_[i].key); });
  return id;
}

void KeyTable::Release(uint32_t id) {
  Entry& e = entries_[id];
  assert(e.refs > 0);
  if (--e.refs > 0) return;
  assert(e.count == 0 && e.total == 0);
  index_.Erase(
      Hash(e.key), [&](uint32_t i) { return i == id; },
      [&](uint32_t i) { return Hash(entries_[i].key); });
  e.key.clear();
  e.key.shrink_to_fit();  // a long key's heap copy goes now, not when the id is reused
  free_.push_back(id);
}

void KeyTable::Reserve(size_t n) {
  index_.Reserve(index_.size() + n, [&](uint32_t i) { return Hash(entries_[i].key); });
}

WindowSum KeyTable::sum(uint32_t id) const {
  const Entry& e = entries_[id];
  WindowSum s{e.count, e.total, 0, 0};
  if (numeric_sums_) {
    s.numeric = numeric_[id].numeric;
    s.sum = numeric_[id].sum;
  }
  return s;
}

bool KeyTable::AddSum(uint32_t id, const WindowSum& d) {
  Entry& e = entries_[id];
  const bool was_empty = e.count == 0 && e.total == 0;
  e.count += d.count;
  e.total += d.total;
  if (numeric_sums_) {
    numeric_[id].numeric += d.numeric;
    numeric_[id].sum += d.sum;
  }
  return was_empty;
}

bool KeyTable::SubtractSum(uint32_t id, const WindowSum& d) {
  Entry& e = entries_[id];
  assert(e.count >= d.count && e.total >= d.total);
  e.count -= d.count;
  e.total -= d.total;
  if (numeric_sums_) {
    numeric_[id].numeric -= d.numeric;
    numeric_[id].sum -= d.sum;
  }
  if (e.count != 0 || e.total != 0) return false;
  if (numeric_sums_) numeric_[id] = NumericSum{};
  return true;
}

void KeyTable::ClearSums() {
  entries_.ForEach([](Entry& e) { e.count = e.total = 0; });
  numeric_.ForEach([](NumericSum& n) { n = NumericSum{}; });
}

}  // namespace ember::engine
