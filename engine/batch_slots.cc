#include "engine/batch_slots.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace ember::engine {

Slot* BatchSlots::Find(uint32_t key) {
  if (slots_.size() <= kUnindexed) {
    for (Slot& slot : slots_) {
      if (slot.key == key) return &slot;
    }
    return nullptr;
  }
  const uint32_t pos = index_->Find(MixId(key), [&](uint32_t p) { return slots_[p].key == key; });
  return pos == OpenIndex::kNone ? nullptr : &slots_[pos];
}

const Slot* BatchSlots::Find(uint32_t key) const {
  return const_cast<BatchSlots*>(this)->Find(key);
}

void BatchSlots::Reserve(size_t n) {
  if (slots_.size() + n <= kUnindexed) return;
  Index().Reserve(slots_.size() + n, [&](uint32_t p) { return MixId(slots_[p].key); });
}

OpenIndex& BatchSlots::Index() {
  if (!index_) index_ = std::make_unique<OpenIndex>();
  return *index_;
}

Slot& SlotList::emplace_back(SlideMemory& memory) {
  // A new block starts after the slots held in place and at the start of every later block.
  if (size_ == kFirst) {
    second_ = static_cast<Slot*>(memory.TakeBlock(0, kSecond * sizeof(Slot), alignof(Slot)));
    std::uninitialized_value_construct_n(second_, kSecond);
  } else if (size_ >= kFirst + kSecond && (size_ - kFirst - kSecond) % kBlock == 0) {
    more_.reserve(more_.size() + 1);  // before the block is taken: nothing to give back on a throw
    more_.push_back(static_cast<Slot*>(memory.TakeBlock(1, kBlock * sizeof(Slot), alignof(Slot))));
    std::uninitialized_value_construct_n(more_.back(), kBlock);
  }
  return (*this)[size_++];
}

void SlotList::Release(SlideMemory& memory) {
  if (second_ != nullptr) {
    std::destroy_n(second_, kSecond);
    memory.GiveBlock(0, second_);
    second_ = nullptr;
  }
  for (Slot* block : more_) {
    std::destroy_n(block, kBlock);
    memory.GiveBlock(1, block);
  }
  more_.clear();
  size_ = std::min(size_, kFirst);
}

Slot& BatchSlots::Insert(uint32_t key) {
  const auto pos = static_cast<uint32_t>(slots_.size());
  Slot& slot = slots_.emplace_back(*memory_);
  slot.key = key;
  if (slots_.size() > kUnindexed) {
    // The index starts with the slot past kUnindexed and holds every slot from then on.
    auto hash_of = [&](uint32_t p) { return MixId(slots_[p].key); };
    for (uint32_t p = slots_.size() == kUnindexed + 1 ? 0 : pos; p <= pos; ++p) {
      Index().Insert(hash_of(p), p, hash_of);
    }
  }
  return slot;
}

void BatchSlots::SetSample(Slot& slot, std::string_view line) {
  line = line.substr(0, kMaxSampleBytes);
  if (samples_.size() + line.size() > UINT32_MAX) line = {};
  slot.sample_offset = static_cast<uint32_t>(samples_.size());
  slot.sample_size = static_cast<uint16_t>(line.size());
  samples_.Append(line, *memory_);
}

void SampleBuffer::Append(std::string_view bytes, SlideMemory& memory) {
  if (size_ + bytes.size() > capacity_) {
    const size_t grown = std::max<size_t>(size_ + bytes.size(), size_ + size_ / 4);
    MoveTo(std::min<size_t>(grown, UINT32_MAX), memory);
  }
  if (!bytes.empty())
    std::memcpy(heap_ != nullptr ? heap_ + size_ : in_place_ + size_, bytes.data(), bytes.size());
  size_ += static_cast<uint32_t>(bytes.size());
}

void SampleBuffer::Trim(SlideMemory& memory) {
  if (heap_ != nullptr && capacity_ - size_ > kTrimSlackBytes) MoveTo(size_, memory);
}

void SampleBuffer::Release(SlideMemory& memory) {
  if (heap_ != nullptr) memory.GiveBytes(heap_, capacity_);
  heap_ = nullptr;
  size_ = 0;
  capacity_ = kInline;
}

void SampleBuffer::MoveTo(size_t capacity, SlideMemory& memory) {
  size_t taken = 0;
  char* moved = memory.TakeBytes(capacity, &taken);
  if (size_ > 0) std::memcpy(moved, data(), size_);
  if (heap_ != nullptr) memory.GiveBytes(heap_, capacity_);
  heap_ = moved;
  capacity_ = static_cast<uint32_t>(taken);  // `capacity`, or a pooled size of at most 4 KiB
}

}  // namespace ember::engine
