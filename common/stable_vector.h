// StableVector: elements appended at the end that never move (addresses and views into them
// stay valid while the vector lives), in blocks of kBlock; an empty one has allocated nothing,
// where a std::deque allocates its map and a first block at construction (a window of a rule
// that never matches held three of them). Not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ember {

template <class T, size_t kBlock = 64>
class StableVector {
 public:
  StableVector() = default;
  StableVector(const StableVector&) = delete;
  StableVector& operator=(const StableVector&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return blocks_[i / kBlock][i % kBlock]; }
  const T& operator[](size_t i) const { return blocks_[i / kBlock][i % kBlock]; }

  // A value-initialized element at the end.
  T& emplace_back() {
    if (size_ % kBlock == 0) blocks_.push_back(std::make_unique<T[]>(kBlock));
    return (*this)[size_++];
  }

  // Calls f(element) for every element, in order.
  template <class F>
  void ForEach(F f) {
    for (size_t i = 0; i < size_; ++i) f((*this)[i]);
  }

 private:
  std::vector<std::unique_ptr<T[]>> blocks_;
  size_t size_ = 0;
};

}  // namespace ember
