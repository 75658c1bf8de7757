// NodePool: memory for the nodes of one container (a window's batches, engine/batch_map.h),
// all of one size, carved from chunks that grow from 4 nodes to 256 (or to max_chunk_bytes,
// at least one node, whichever comes first); a freed node is reused
// before a chunk is carved further, and the chunks are freed with the pool. A container whose
// nodes come from it allocates almost nothing once it has reached its size, frees nothing as
// nodes go, and keeps nodes made one after the other next to each other (walking them in
// order reads memory in order). The pool holds the most nodes the container ever held at
// once. Not thread-safe.
//
//   NodePool pool;
//   T* node = new (pool.Take(sizeof(T), alignof(T))) T();
//   node->~T();
//   pool.Give(node);
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace ember {

class NodePool {
 public:
  explicit NodePool(size_t max_chunk_bytes = SIZE_MAX) : max_chunk_bytes_(max_chunk_bytes) {}
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;
  ~NodePool() {
    for (std::byte* chunk : chunks_) ::operator delete(chunk, std::align_val_t(align_));
  }

  // Room for one node of `size` bytes aligned to `align` (every call the same size).
  void* Take(size_t size, size_t align) {
    if (free_ != nullptr) {
      FreeNode* node = free_;
      free_ = node->next;
      return node;
    }
    if (node_size_ == 0) {
      // Each node can hold the free list's link, and every node stays aligned.
      align_ = std::max(align, alignof(FreeNode));
      node_size_ = (std::max(size, sizeof(FreeNode)) + align_ - 1) / align_ * align_;
    }
    assert(std::max(size, sizeof(FreeNode)) <= node_size_ && align <= align_);
    if (carved_ == chunk_nodes_) {
      chunk_nodes_ =
          chunks_.empty() ? kFirstChunkNodes : std::min(chunk_nodes_ * 2, kMaxChunkNodes);
      chunk_nodes_ = std::clamp<size_t>(max_chunk_bytes_ / node_size_, 1, chunk_nodes_);
      chunks_.push_back(static_cast<std::byte*>(
          ::operator new(chunk_nodes_* node_size_, std::align_val_t(align_))));
      carved_ = 0;
    }
    return chunks_.back() + node_size_ * carved_++;
  }
  // Takes back a node Take gave (its contents destroyed).
  void Give(void* p) { free_ = new (p) FreeNode{free_}; }

  size_t chunks() const { return chunks_.size(); }

 private:
  static constexpr size_t kFirstChunkNodes = 4, kMaxChunkNodes = 256;
  struct FreeNode {
    FreeNode* next;
  };
  std::vector<std::byte*> chunks_;
  size_t max_chunk_bytes_;
  size_t node_size_ = 0, align_ = 0;
  size_t chunk_nodes_ = 0, carved_ = 0;
  FreeNode* free_ = nullptr;
};

}  // namespace ember
