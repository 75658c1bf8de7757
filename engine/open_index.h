// OpenIndex: an open-addressing hash index of uint32 ids (linear probing, at most half full,
// backward-shift deletion: no tombstones) for tables that keep their entries elsewhere. The
// caller passes each lookup's hash and a test "is this id the one", and for growing or
// erasing a function giving the hash of a stored id. Four bytes a slot. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace ember::engine {

class OpenIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // The stored id for which is(id) holds, or kNone.
  template <class Is>
  uint32_t Find(uint64_t hash, Is is) const {
    if (slots_.empty()) return kNone;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint32_t id = slots_[i];
      if (id == kNone) return kNone;
      if (is(id)) return id;
    }
  }

  // Stores `id` (REQUIRES: not stored). hash_of(stored id) -> its hash, used when growing.
  template <class HashOf>
  void Insert(uint64_t hash, uint32_t id, HashOf hash_of) {
    if (2 * (size_ + 1) > slots_.size()) Grow(hash_of);
    size_t i = hash & mask_;
    while (slots_[i] != kNone) i = (i + 1) & mask_;
    slots_[i] = id;
    ++size_;
  }

  // Removes the stored id for which is(id) holds, if any.
  template <class Is, class HashOf>
  void Erase(uint64_t hash, Is is, HashOf hash_of) {
    if (slots_.empty()) return;
    size_t i = hash & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i] == kNone) return;
      if (is(slots_[i])) break;
    }
    // Backward shift: pull later entries of the run into the hole when their home allows.
    for (size_t j = (i + 1) & mask_; slots_[j] != kNone; j = (j + 1) & mask_) {
      const size_t home = hash_of(slots_[j]) & mask_;
      const bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
      if (movable) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = kNone;
    --size_;
  }

  // Grows now so that `n` ids fit without growing again (bulk loads).
  template <class HashOf>
  void Reserve(size_t n, HashOf hash_of) {
    while (2 * n > slots_.size()) Grow(hash_of);
  }

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(uint32_t); }

 private:
  template <class HashOf>
  void Grow(HashOf hash_of) {
    std::vector<uint32_t> old(slots_.empty() ? 16 : slots_.size() * 2, kNone);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (uint32_t id : old) {
      if (id == kNone) continue;
      size_t i = hash_of(id) & mask_;
      while (slots_[i] != kNone) i = (i + 1) & mask_;
      slots_[i] = id;
    }
  }

  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// A well-mixed hash of a small integer id (Fibonacci hashing's multiplier, high bits folded).
inline uint64_t MixId(uint32_t id) {
  const uint64_t h = uint64_t{id} * 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 32);
}

}  // namespace ember::engine
