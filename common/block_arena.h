// BlockArena: room for bytes in blocks that never move, so what a caller writes there stays
// where it is until Clear, which keeps the blocks of the usual size for reuse (larger ones, made
// for one big request, are freed). Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace ember {

class BlockArena {
 public:
  // REQUIRES: block_bytes > 0.
  explicit BlockArena(size_t block_bytes) : block_bytes_(block_bytes) {}

  // `n` bytes of room (uninitialized), valid until Clear.
  char* Allocate(size_t n) {
    while (block_ < blocks_.size() && blocks_[block_].size - used_ < n) {
      ++block_;
      used_ = 0;
    }
    if (block_ == blocks_.size()) {
      const size_t size = std::max(block_bytes_, n);
      blocks_.push_back(Block{std::make_unique_for_overwrite<char[]>(size), size});
      used_ = 0;
    }
    char* at = blocks_[block_].bytes.get() + used_;
    used_ += n;
    allocated_ += n;
    return at;
  }
  // Bytes handed out since Clear.
  size_t allocated() const { return allocated_; }
  void Clear() {
    std::erase_if(blocks_, [&](const Block& b) { return b.size > block_bytes_; });
    block_ = 0;
    used_ = 0;
    allocated_ = 0;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> bytes;
    size_t size = 0;
  };
  const size_t block_bytes_;
  std::vector<Block> blocks_;
  size_t block_ = 0;  // the block handing out room
  size_t used_ = 0;   // of it
  size_t allocated_ = 0;
};

}  // namespace ember
