// TimeZone: the UTC offset of a zone at any instant — a fixed offset, or a named zone read
// from the system's time zone database (TZif files in /usr/share/zoneinfo, package tzdata).
// Immutable after loading; safe to share between threads. Past the database's last
// transition (2037 in Debian's files) the last offset holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ember {

class TimeZone {
 public:
  // "UTC" (also "Z"), a fixed offset ("+02:00", "-0530"), or a zone name ("Europe/Paris").
  // InvalidArgument naming the problem for anything else, an unknown or unreadable zone.
  static Result<TimeZone> Parse(const std::string& text,
                                const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // Offset east of UTC, in milliseconds, in effect at `utc_ms`.
  int64_t OffsetAtUtc(int64_t utc_ms) const;
  // The UTC instant of a wall-clock time in this zone. A time skipped or repeated by a DST
  // change maps to one of its candidates.
  int64_t LocalToUtc(int64_t local_ms) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_ = "UTC";
  std::vector<int64_t> transitions_ms_;  // UTC instants where the offset changes, ascending
  std::vector<int64_t> offsets_ms_;      // offset from transitions_ms_[i] on
  int64_t initial_offset_ms_ = 0;        // before the first transition
};

}  // namespace ember
