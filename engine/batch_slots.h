// BatchSlots: the partial aggregates of one slide of one rule, one compact slot per key (a
// KeyTable id, looked up through an OpenIndex), each key's first line kept as its sample in
// one buffer owned by the batch, cut to its exact size when the batch closes. A key costs
// about 56 bytes plus its sample's bytes, where a node-based map of strings cost about 330.
// Slot addresses stay valid until the batch is destroyed. Not thread-safe: owned by a
// RuleWindow.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/interned.h"
#include "engine/open_index.h"
#include "engine/slide_memory.h"

namespace ember::engine {

// The aggregates only some rules need (ratio_of, value, distinct): allocated on first use.
struct SlotExtras {
  uint64_t total = 0;                // lines matching the rule's `ratio_of` pattern
  uint64_t numeric = 0;              // matching lines whose `value` capture is a number
  double sum = 0, min = 0, max = 0;  // of those numbers (min/max meaningful when numeric > 0)
  std::vector<uint64_t> distinct;    // sorted hashes of `distinct` values (bounded by the caller)
};

struct Slot {
  uint32_t key = 0;            // KeyTable id
  uint32_t sample_offset = 0;  // in the batch's sample buffer (BatchSlots::Sample)
  uint16_t sample_size = 0;
  bool dirty = false;              // changed since the last checkpoint delta
  uint32_t sample_batch = 0;       // the sample's batch, counted from the slot's (a slide's) first
  uint64_t count = 0;              // lines matching the rule's pattern
  const Origin* origin = nullptr;  // host and file of the sample (engine/interned.h)
  uint64_t offset_start = 0;       // byte range in the file holding the sample; 0, 0 if unknown
  uint64_t offset_end = 0;
  std::unique_ptr<SlotExtras> extras;

  uint64_t total() const { return extras ? extras->total : 0; }
  SlotExtras& mutable_extras() {
    if (!extras) extras = std::make_unique<SlotExtras>();
    return *extras;
  }
};

// Samples are cut to this many bytes: a window's memory must not grow with line length.
inline constexpr size_t kMaxSampleBytes = 1024;

// The slots of one batch in the order they came, each at an address that never changes. Most
// batches are small (a partition's share of a rule's keys in one batch): the first 2 slots lie
// in the list itself, the next 6 in one block, then 16 a block, the blocks from the window's
// SlideMemory, so a batch of one or two keys takes no block. Release gives the blocks back
// before the list is destroyed. Neither copied nor moved (slots are referred to by address).
// Not thread-safe.
class SlotList {
 public:
  SlotList() = default;
  SlotList(const SlotList&) = delete;
  SlotList& operator=(const SlotList&) = delete;
  ~SlotList() { assert(second_ == nullptr && more_.empty()); }

  size_t size() const { return size_; }
  const Slot& operator[](size_t i) const {
    if (i < kFirst) return first_[i];
    if (i < kFirst + kSecond) return second_[i - kFirst];
    i -= kFirst + kSecond;
    return more_[i / kBlock][i % kBlock];
  }
  Slot& operator[](size_t i) { return const_cast<Slot&>(std::as_const(*this)[i]); }
  Slot& emplace_back(SlideMemory& memory);
  // Destroys the slots held in blocks and gives the blocks back to `memory` (the one they
  // came from); the list is then empty.
  void Release(SlideMemory& memory);

  template <class List, class Value>
  class Iterator {
   public:
    Iterator(List* list, size_t i) : list_(list), i_(i) {}
    Value& operator*() const { return (*list_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return i_ != other.i_; }

   private:
    List* list_;
    size_t i_;
  };
  Iterator<SlotList, Slot> begin() { return {this, 0}; }
  Iterator<SlotList, Slot> end() { return {this, size_}; }
  Iterator<const SlotList, const Slot> begin() const { return {this, 0}; }
  Iterator<const SlotList, const Slot> end() const { return {this, size_}; }

 private:
  static constexpr size_t kFirst = 2, kSecond = 6, kBlock = 16;
  Slot first_[kFirst];
  Slot* second_ = nullptr;   // kSecond slots from the SlideMemory's pool 0
  std::vector<Slot*> more_;  // kBlock slots each, from its pool 1
  size_t size_ = 0;
};

// Bytes appended back to back: the first kInline in place (the samples of a batch of one key
// with a line of usual length allocate nothing), then in a SlideMemory's pooled buffers (256,
// 384, 512 … bytes, up to 4 KiB), then on the heap, grown by a quarter (at most a fifth of the
// room is then unused). Release gives the buffer back before it is destroyed. Neither copied
// nor moved. Not thread-safe.
class SampleBuffer {
 public:
  static constexpr size_t kInline = 112;
  // Room for growth Trim leaves in place: moving a small buffer to trim it costs more (a
  // second copy while both live, and a gap in the heap) than it gives back.
  static constexpr size_t kTrimSlackBytes = 64 * 1024;

  SampleBuffer() = default;
  SampleBuffer(const SampleBuffer&) = delete;
  SampleBuffer& operator=(const SampleBuffer&) = delete;
  ~SampleBuffer() { assert(heap_ == nullptr); }

  size_t size() const { return size_; }
  std::string_view View(size_t offset, size_t n) const { return {data() + offset, n}; }
  // REQUIRES: size() + bytes.size() <= UINT32_MAX; `memory` the same at every call.
  void Append(std::string_view bytes, SlideMemory& memory);
  // Gives back the room kept for growth when it is more than kTrimSlackBytes.
  void Trim(SlideMemory& memory);
  // Gives the buffer back to `memory`; the buffer is then empty.
  void Release(SlideMemory& memory);

 private:
  const char* data() const { return heap_ != nullptr ? heap_ : in_place_; }
  void MoveTo(size_t capacity, SlideMemory& memory);

  char in_place_[kInline];
  char* heap_ = nullptr;  // from SlideMemory::TakeBytes, capacity_ bytes
  uint32_t size_ = 0;
  uint32_t capacity_ = kInline;
};

class BatchSlots {
 public:
  // Blocks and buffers come from `memory` (the window's), which must outlive the batch.
  explicit BatchSlots(SlideMemory* memory) : memory_(memory) {}
  ~BatchSlots() {
    slots_.Release(*memory_);
    samples_.Release(*memory_);
  }
  BatchSlots(const BatchSlots&) = delete;
  BatchSlots& operator=(const BatchSlots&) = delete;

  Slot* Find(uint32_t key);
  const Slot* Find(uint32_t key) const;
  // Makes room for `n` more slots at once (recovery).
  void Reserve(size_t n);
  // REQUIRES: `key` has no slot yet.
  Slot& Insert(uint32_t key);
  // Copies up to kMaxSampleBytes bytes of `line` into the buffer as the slot's sample (none
  // once the buffer holds 4 GiB).
  void SetSample(Slot& slot, std::string_view line);
  std::string_view Sample(const Slot& slot) const {
    return samples_.View(slot.sample_offset, slot.sample_size);
  }
  // No more samples are coming: the buffer gives back what it reserved for growth.
  void Seal() { samples_.Trim(*memory_); }

  SlotList& slots() { return slots_; }
  const SlotList& slots() const { return slots_; }

  // How many checkpoint deltas wrote this batch since it was last written whole (each is one
  // stored segment); a batch restored from a checkpoint counts as written more than once.
  uint32_t deltas_written = 0;

 private:
  // Batches of up to this many keys are searched slot by slot, without an index.
  static constexpr size_t kUnindexed = 8;
  // The index, made on first use.
  OpenIndex& Index();
  SlideMemory* memory_;
  SlotList slots_;
  // Key id -> position in slots_, once there are more than kUnindexed (most batches never
  // have: kept apart, so that they do not carry its room).
  std::unique_ptr<OpenIndex> index_;
  SampleBuffer samples_;  // every slot's sample, back to back
};

}  // namespace ember::engine
