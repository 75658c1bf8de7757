#include "engine/batch_slots.h"

#include <algorithm>
#include <cstring>

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

Slot& SlotList::emplace_back() {
  // A new block starts after the slots held in place and at the start of every later block.
  if (size_ == kFirst || (size_ >= kFirst + kSecond && OffsetOf(size_) == 0)) {
    blocks_.push_back(std::make_unique<Slot[]>(blocks_.empty() ? kSecond : kBlock));
  }
  return (*this)[size_++];
}

Slot& BatchSlots::Insert(uint32_t key) {
  const auto pos = static_cast<uint32_t>(slots_.size());
  Slot& slot = slots_.emplace_back();
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
  samples_.Append(line);
}

void SampleBuffer::Append(std::string_view bytes) {
  if (size_ + bytes.size() > capacity_) {
    const size_t grown = std::max<size_t>(size_ + bytes.size(), size_ + size_ / 4);
    MoveTo(std::min<size_t>(grown, UINT32_MAX));
  }
  if (!bytes.empty())
    std::memcpy(heap_ ? heap_.get() + size_ : in_place_ + size_, bytes.data(), bytes.size());
  size_ += static_cast<uint32_t>(bytes.size());
}

void SampleBuffer::Trim() {
  if (heap_ && capacity_ - size_ > kTrimSlackBytes) MoveTo(size_);
}

void SampleBuffer::MoveTo(size_t capacity) {
  std::unique_ptr<char[]> moved(new char[capacity]);
  if (size_ > 0) std::memcpy(moved.get(), data(), size_);
  heap_ = std::move(moved);
  capacity_ = static_cast<uint32_t>(capacity);
}

}  // namespace ember::engine
