// SlideMemory: the memory one window's slides hold beyond their nodes (blocks of slots, sample
// buffers of up to kMaxPooledBytes), kept in pools of a few exact sizes that the window owns.
// A slide made and dropped takes its blocks from here and gives them back, without malloc or
// free: windows closed on several threads at once take no allocator lock (glibc's `free` of
// memory another thread allocated takes that thread's arena lock), and a window's memory is
// its own. Each pool holds the most blocks of its size the window ever held at once; larger
// sample buffers come from the heap. Not thread-safe: owned by one RuleWindow.
#pragma once

#include <cstddef>
#include <memory>

#include "common/node_pool.h"

namespace ember::engine {

class SlideMemory {
 public:
  // Sample buffers up to this size come from the pools, in sizes 256, 384, 512, 768, ...
  // (steps of 1.5 and 4/3: a buffer wastes an eighth of its room on average).
  static constexpr size_t kMaxPooledBytes = 4096;

  SlideMemory() = default;
  SlideMemory(const SlideMemory&) = delete;
  SlideMemory& operator=(const SlideMemory&) = delete;

  // Blocks of fixed sizes (a slot list's): pool `pool` (< kBlockPools) hands out blocks of
  // one size only, `bytes` aligned to `align`, uninitialized; GiveBlock takes one back.
  static constexpr size_t kBlockPools = 2;
  void* TakeBlock(size_t pool, size_t bytes, size_t align) {
    return Made().blocks[pool].Take(bytes, align);
  }
  void GiveBlock(size_t pool, void* p) { pools_->blocks[pool].Give(p); }

  // Room for at least `bytes` bytes, `*capacity` set to what it holds: a pooled size when it
  // fits one, else exactly `bytes` from the heap. Give it back with GiveBytes(p, *capacity).
  char* TakeBytes(size_t bytes, size_t* capacity);
  void GiveBytes(char* p, size_t capacity);

 private:
  static constexpr size_t kByteClasses = 9;
  static constexpr size_t kClassBytes[kByteClasses] = {
      256, 384, 512, 768, 1024, 1536, 2048, 3072, kMaxPooledBytes};
  // The smallest class holding `bytes` (at most kMaxPooledBytes).
  static size_t ClassOf(size_t bytes);
  // A window of few keys needs few blocks of a size: the pools' chunks stay small.
  static constexpr size_t kChunkBytes = 16 << 10;
  struct Pool : NodePool {
    Pool() : NodePool(kChunkBytes) {}
  };
  struct Pools {
    Pool blocks[kBlockPools];
    Pool bytes[kByteClasses];
  };
  // Made when first needed: most windows never hold a slide of more than two keys, and a
  // rule set of hundreds of rules has thousands of windows.
  Pools& Made() {
    if (!pools_) pools_ = std::make_unique<Pools>();
    return *pools_;
  }
  std::unique_ptr<Pools> pools_;
};

}  // namespace ember::engine
