// libFuzzer target for the agent's offsets file: any bytes must load or be refused with a
// Corruption status, never abort (an exception from the JSON library) or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/offset_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto store = ember::agent::OffsetStore::Empty("/nonexistent");
  ember::Status s = store->Read(std::string(reinterpret_cast<const char*>(data), size),
                                "/nonexistent/offsets.json");
  if (!s.ok() && s.message().find("offsets.json") == std::string::npos) __builtin_trap();
  return 0;
}
