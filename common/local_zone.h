// This machine's local time zone, by name. Apart from TimeZone (common/time_zone.h) so that
// the agent, which only names its zone, does not link the time zone library. Thread-safe.
#pragma once

#include <string>

namespace ember {

// The local zone as a name TimeZone::Parse reads: TZ (without a leading ':'), else where
// /etc/localtime points inside a zoneinfo directory, else /etc/timezone, else "UTC".
std::string LocalZoneName();

}  // namespace ember
