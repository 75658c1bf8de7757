// libFuzzer target for the wire decoder: any bytes must decode or be refused, never read out
// of bounds (run under AddressSanitizer + UBSan by tests/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  (void)ember::wire::PeekType(frame);
  auto decoded = ember::wire::DecodeData(frame);
  if (decoded.ok()) {
    size_t total = 0;
    for (auto line : decoded->lines) total += line.size();
    if (total > size) __builtin_trap();  // lines must lie inside the frame
  }
  ember::wire::FrameType type;
  (void)ember::wire::DecodeOffsets(frame, &type);
  (void)ember::wire::DecodeHello(frame);
  (void)ember::wire::DecodeWelcome(frame);
  (void)ember::wire::DecodeHeartbeat(frame);
  (void)ember::wire::DecodeRefused(frame);
  (void)ember::wire::PeekVersion(frame);
  return 0;
}
