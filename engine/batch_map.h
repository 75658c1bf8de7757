// BatchMap: a window's stored batches by batch number, in order, each value in a node of its
// own that never moves (batches are referred to by address). Batches come mostly in order and
// leave from the front, which a balanced tree pays for with a rebalancing at every append and
// a pointer chase at every step. Here keys sit sorted in blocks of up to kBlockEntries, the
// blocks in order: appending and dropping the first batch cost a few instructions, finding
// one is a binary search of the blocks and then of one block, and a batch out of order (a
// log's time going back) moves at most one block's entries, or splits the block (then the
// list of blocks moves, about one pointer in kBlockEntries / 2 per entry). Iterators are
// invalidated by any insert or erase. Values are made as V(arg), `arg` given to the map (or
// value-initialized when there is none). Not thread-safe.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/node_pool.h"

namespace ember::engine {

template <class V, class Arg = std::monostate>
class BatchMap {
  static constexpr uint32_t kBlockEntries = 32;
  struct Block {
    uint32_t size = 0;
    int64_t keys[kBlockEntries];
    V* values[kBlockEntries];
    int64_t last() const { return keys[size - 1]; }
  };

 public:
  // A key and its value, as a std::map's iterator shows them.
  template <class Value>
  struct Ref {
    int64_t first;
    Value& second;
  };

  template <class Map, class Value>
  class Iterator {
   public:
    Iterator(Map* map, size_t block, uint32_t pos) : map_(map), block_(block), pos_(pos) {}
    Ref<Value> operator*() const {
      const Block& b = *map_->blocks_[block_];
      return {b.keys[pos_], *b.values[pos_]};
    }
    struct Arrow {
      Ref<Value> ref;
      const Ref<Value>* operator->() const { return &ref; }
    };
    Arrow operator->() const { return Arrow{**this}; }
    Iterator& operator++() {
      if (++pos_ == map_->blocks_[block_]->size) {
        ++block_;
        pos_ = 0;
      }
      return *this;
    }
    bool operator==(const Iterator& other) const {
      return block_ == other.block_ && pos_ == other.pos_;
    }
    bool operator!=(const Iterator& other) const { return !(*this == other); }

   private:
    Map* map_;
    size_t block_;
    uint32_t pos_;
  };
  using iterator = Iterator<BatchMap, V>;
  using const_iterator = Iterator<const BatchMap, const V>;

  // Nodes come from `pool`, which must outlive the map.
  explicit BatchMap(NodePool* pool, Arg arg = {}) : pool_(pool), arg_(arg) {}
  BatchMap(const BatchMap&) = delete;
  BatchMap& operator=(const BatchMap&) = delete;
  ~BatchMap() {
    for (const auto& block : blocks_) {
      for (uint32_t i = 0; i < block->size; ++i) Destroy(block->values[i]);
    }
  }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  iterator begin() { return {this, 0, 0}; }
  iterator end() { return {this, blocks_.size(), 0}; }
  const_iterator begin() const { return {this, 0, 0}; }
  const_iterator end() const { return {this, blocks_.size(), 0}; }

  // The first entry whose key is not below `key`.
  iterator lower_bound(int64_t key) {
    const Place at = LowerBound(key);
    return {this, at.block, at.pos};
  }
  const_iterator lower_bound(int64_t key) const {
    const Place at = LowerBound(key);
    return {this, at.block, at.pos};
  }
  iterator find(int64_t key) {
    const Place at = LowerBound(key);
    return Holds(at, key) ? iterator{this, at.block, at.pos} : end();
  }
  const_iterator find(int64_t key) const {
    const Place at = LowerBound(key);
    return Holds(at, key) ? const_iterator{this, at.block, at.pos} : end();
  }

  // The value of `key`, made if absent.
  V& operator[](int64_t key) {
    if (!blocks_.empty()) {
      Block& last = *blocks_.back();
      if (last.last() == key) return *last.values[last.size - 1];
      if (last.last() < key) {
        if (last.size < kBlockEntries) return Put(last, last.size, key);
        return Put(NewBlockAt(blocks_.size()), 0, key);
      }
      const Place at = LowerBound(key);
      if (Holds(at, key)) return *blocks_[at.block]->values[at.pos];
      return Insert(at, key);
    }
    return Put(NewBlockAt(0), 0, key);
  }

  // Destroys the first entry. REQUIRES: !empty().
  void erase_first() {
    assert(!empty());
    Block& first = *blocks_.front();
    Destroy(first.values[0]);
    --first.size;
    std::move(first.keys + 1, first.keys + first.size + 1, first.keys);
    std::move(first.values + 1, first.values + first.size + 1, first.values);
    --size_;
    if (first.size == 0) blocks_.erase(blocks_.begin());  // a few pointers, once a block
  }

 private:
  struct Place {
    size_t block;
    uint32_t pos;
  };

  Place LowerBound(int64_t key) const {
    // The first block whose last key is not below `key` holds the entry, if any does.
    const auto block = std::partition_point(blocks_.begin(), blocks_.end(),
                                            [&](const auto& b) { return b->last() < key; });
    if (block == blocks_.end()) return {blocks_.size(), 0};
    const Block& b = **block;
    const auto pos = std::lower_bound(b.keys, b.keys + b.size, key) - b.keys;
    return {static_cast<size_t>(block - blocks_.begin()), static_cast<uint32_t>(pos)};
  }
  bool Holds(Place at, int64_t key) const {
    return at.block < blocks_.size() && blocks_[at.block]->keys[at.pos] == key;
  }

  // Inserts `key` at `at` (where LowerBound placed it, before an entry with a larger key).
  V& Insert(Place at, int64_t key) {
    Block* b = blocks_[at.block].get();
    if (b->size == kBlockEntries) {
      // Split: the upper half moves to a new block after this one.
      constexpr uint32_t kHalf = kBlockEntries / 2;
      Block& upper = NewBlockAt(at.block + 1);
      b = blocks_[at.block].get();
      std::copy(b->keys + kHalf, b->keys + kBlockEntries, upper.keys);
      std::copy(b->values + kHalf, b->values + kBlockEntries, upper.values);
      upper.size = kBlockEntries - kHalf;
      b->size = kHalf;
      if (at.pos > kHalf) {
        b = &upper;
        at.pos -= kHalf;
      }
    }
    return Put(*b, at.pos, key);
  }

  // Makes room at `pos` of `b` (which has room) and puts a new value of `key` there.
  V& Put(Block& b, uint32_t pos, int64_t key) {
    assert(b.size < kBlockEntries && pos <= b.size);
    void* room = pool_->Take(sizeof(V), alignof(V));
    V* value;
    if constexpr (std::is_same_v<Arg, std::monostate>) {
      value = new (room) V();
    } else {
      value = new (room) V(arg_);
    }
    std::move_backward(b.keys + pos, b.keys + b.size, b.keys + b.size + 1);
    std::move_backward(b.values + pos, b.values + b.size, b.values + b.size + 1);
    b.keys[pos] = key;
    b.values[pos] = value;
    ++b.size;
    ++size_;
    return *value;
  }

  Block& NewBlockAt(size_t index) {
    return **blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(index),
                            std::make_unique<Block>());
  }

  void Destroy(V* value) {
    value->~V();
    pool_->Give(value);
  }

  NodePool* pool_;
  Arg arg_;
  // None empty. A vector, not a deque: an empty map allocates nothing (a deque allocates at
  // construction), and the blocks are few (each holds 16 to 32 batches).
  std::vector<std::unique_ptr<Block>> blocks_;
  size_t size_ = 0;
};

}  // namespace ember::engine
