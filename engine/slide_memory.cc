#include "engine/slide_memory.h"

#include <algorithm>

namespace ember::engine {

size_t SlideMemory::ClassOf(size_t bytes) {
  return static_cast<size_t>(std::lower_bound(kClassBytes, kClassBytes + kByteClasses, bytes) -
                             kClassBytes);
}

char* SlideMemory::TakeBytes(size_t bytes, size_t* capacity) {
  if (bytes > kMaxPooledBytes) {
    *capacity = bytes;
    return static_cast<char*>(::operator new(bytes));
  }
  const size_t c = ClassOf(bytes);
  *capacity = kClassBytes[c];
  return static_cast<char*>(Made().bytes[c].Take(*capacity, 1));
}

void SlideMemory::GiveBytes(char* p, size_t capacity) {
  if (capacity > kMaxPooledBytes) {
    ::operator delete(p);
    return;
  }
  pools_->bytes[ClassOf(capacity)].Give(p);
}

}  // namespace ember::engine
