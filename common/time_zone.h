// TimeZone: the UTC offset of a zone at any instant — UTC, a fixed offset, or a named zone of
// the system's time zone database (TZif files in /usr/share/zoneinfo, package tzdata), read
// by cctz, which also follows a zone's rules past the database's last transition (the POSIX
// footer of the file). Immutable after loading; safe to share between threads.
#pragma once

#include <cctz/time_zone.h>

#include <cstdint>
#include <optional>
#include <string>

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
  // The UTC instant of a wall-clock time in this zone. A time skipped by a DST change maps
  // as if the change had not happened yet; a repeated one to its first occurrence.
  int64_t LocalToUtc(int64_t local_ms) const;
  const std::string& name() const { return name_; }
  const cctz::time_zone& zone() const { return zone_; }

 private:
  // Sets fixed_offset_ms_ when the zone never changes its offset (UTC, Etc/*, fixed).
  void NoteFixedOffset();

  std::string name_ = "UTC";
  cctz::time_zone zone_ = cctz::utc_time_zone();
  // The offset of a zone without transitions: conversions then skip cctz's lookups, which
  // cost a search per line read.
  std::optional<int64_t> fixed_offset_ms_ = 0;
};

}  // namespace ember
