// OpenIndex: an open-addressing hash index of uint32 ids (linear probing, at most half full,
// backward-shift deletion: no tombstones) for tables that keep their entries elsewhere. The
// caller passes each lookup's hash and a test "is this id the one", and for growing or
// erasing a function giving the hash of a stored id. Four bytes a slot: the id (at most
// kMaxId) and 4 bits of its hash, which rule out 15 in 16 of the probes that are not the one
// sought before the caller's test reads its entry (most often a cache miss). Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace ember::engine {

class OpenIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kMaxId = (1u << 28) - 2;  // kNone's low bits are not an id

  // The stored id for which is(id) holds, or kNone.
  template <class Is>
  uint32_t Find(uint64_t hash, Is is) const {
    if (slots_.empty()) return kNone;
    const uint32_t tag = Tag(hash);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint32_t slot = slots_[i];
      if (slot == kNone) return kNone;
      if ((slot & ~kIdBits) == tag && is(slot & kIdBits)) return slot & kIdBits;
    }
  }

  // Stores `id` (REQUIRES: not stored). hash_of(stored id) -> its hash, used when growing.
  // More than kMaxId + 1 ids (268 million keys of one rule) is a broken invariant: it aborts.
  template <class HashOf>
  void Insert(uint64_t hash, uint32_t id, HashOf hash_of) {
    if (id > kMaxId) {
      std::fprintf(stderr, "OpenIndex: id %u beyond the %u an index holds\n", id, kMaxId);
      std::abort();
    }
    if (2 * (size_ + 1) > slots_.size()) Grow(hash_of);
    size_t i = hash & mask_;
    while (slots_[i] != kNone) i = (i + 1) & mask_;
    slots_[i] = Tag(hash) | id;
    ++size_;
  }

  // Removes the stored id for which is(id) holds, if any.
  template <class Is, class HashOf>
  void Erase(uint64_t hash, Is is, HashOf hash_of) {
    if (slots_.empty()) return;
    const uint32_t tag = Tag(hash);
    size_t i = hash & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i] == kNone) return;
      if ((slots_[i] & ~kIdBits) == tag && is(slots_[i] & kIdBits)) break;
    }
    // Backward shift: pull later entries of the run into the hole when their home allows.
    for (size_t j = (i + 1) & mask_; slots_[j] != kNone; j = (j + 1) & mask_) {
      const size_t home = hash_of(slots_[j] & kIdBits) & mask_;
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
  static constexpr uint32_t kIdBits = (1u << 28) - 1;
  // The top 4 bits of the hash (the slot comes from its low bits) in the slot's top 4.
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 60) << 28; }

  template <class HashOf>
  void Grow(HashOf hash_of) {
    std::vector<uint32_t> old(slots_.empty() ? 16 : slots_.size() * 2, kNone);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (uint32_t slot : old) {
      if (slot == kNone) continue;
      size_t i = hash_of(slot & kIdBits) & mask_;
      while (slots_[i] != kNone) i = (i + 1) & mask_;
      slots_[i] = slot;
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
