// EventTimeParser: finds the timestamp a log line carries near its start and turns it into
// Unix milliseconds (UTC). Knows the common formats of real logs: ISO-8601 (with ',' or '.'
// fractions, 'T' or ' '), syslog "Mon dd HH:MM:SS" (no year), Apache "[Www Mon dd HH:MM:SS
// YYYY]", BGL "YYYY-MM-DD-HH.MM.SS.ffffff", HDFS "yyMMdd HHmmss", Spark "yy/MM/dd HH:MM:SS",
// logcat "MM-dd HH:MM:SS.fff", "yyyyMMdd-HH:MM:SS:fff", "[MM.dd HH:MM:SS]", the common log
// format "dd/Mon/yyyy:HH:MM:SS -0700", and 10/13-digit epochs. A UTC offset after an ISO-8601
// or common-log time ("Z", "+02:00", "+0200", "-05") is applied; times without one are taken
// as UTC.
// Not thread-safe: it keeps per-stream year inference, so use one parser per input stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time_zone.h"

namespace ember::engine {

class EventTimeParser {
 public:
  // `default_year` is used for formats without a year; it moves forward by one when the
  // month steps back by more than six (December -> January). `zone` (null: UTC; must outlive
  // the parser): where stamps without a UTC offset are wall-clock times.
  explicit EventTimeParser(int default_year, const TimeZone* zone = nullptr)
      : year_(default_year), zone_(zone) {}

  // The year inference of a stream so far. A parser given a copy can read later lines of the
  // stream ahead of time (on another thread); what it assumed is checked against the true
  // state afterwards (YearState::Step).
  struct YearState {
    int year = 0;
    int last_month = 0;  // of the last yearless stamp; 0: none yet
    // The state after a yearless stamp of `month` (1-12) read in this one.
    YearState Step(int month) const {
      return {last_month != 0 && month + 6 < last_month ? year + 1 : year, month};
    }
    bool operator==(const YearState&) const = default;
  };
  YearState year_state() const { return {year_, last_month_}; }
  void set_year_state(YearState state) {
    year_ = state.year;
    last_month_ = state.last_month;
  }

  // The first timestamp starting within the first kScanBytes bytes (read in the parser's
  // zone when it carries no offset), or nullopt.
  std::optional<int64_t> Parse(std::string_view line);
  // The same; *yearless_month is the month (1-12) of a stamp without a year (its year came
  // from the year state, which it moved), else 0.
  std::optional<int64_t> Parse(std::string_view line, int* yearless_month);
  // The same; *has_offset tells whether the stamp carried its UTC offset (else it was read as
  // UTC, and may be a wall-clock time of some zone).
  std::optional<int64_t> ParseStamp(std::string_view line, bool* has_offset);
  // Parse(line, yearless_month) with kNoTime for no stamp: for loops over every line, which
  // then have no optional to pass back and unpack.
  static constexpr int64_t kNoTime = INT64_MIN;
  int64_t ParseMs(std::string_view line, int* yearless_month);

  static constexpr size_t kScanBytes = 64;

  // The date and time to the second of the last ISO-8601 stamp read: lines of a log come in
  // runs of the same second, whose date and clock need not be read again.
  struct IsoMemo {
    static constexpr size_t kPrefixBytes = 19;  // "YYYY-MM-DDTHH:MM:SS" and BGL's form
    char prefix[kPrefixBytes] = {};
    int64_t second_ms = 0;  // Unix ms of the prefix (as UTC)
    bool bgl = false;
    bool valid = false;
  };

 private:
  // The stamp at the start of a yearless syslog line ("Nov 15 04:00:32") read last: its
  // bytes up to the seconds, and the Unix ms of that second in the year it was read in.
  struct SyslogMemo {
    static constexpr size_t kMaxPrefixBytes = 16;
    char prefix[kMaxPrefixBytes] = {};
    uint64_t mask[2] = {};  // the bytes of the prefix 0xFF, the rest 0 (compared a word at a time)
    size_t size = 0;        // 0: none
    int month = 0, year = 0;
    int64_t second_ms = 0;
  };

  // ParseStamp with kNoTime for no stamp: the stamps read last, when the line starts with
  // one of them, else ScanStamp.
  int64_t StampMs(std::string_view line, bool* has_offset);
  // The same, looking for a stamp anywhere in the first kScanBytes bytes.
  int64_t ScanStamp(std::string_view line, bool* has_offset);
  // The line's ISO-8601 stamp, whose date and second are iso_memo_'s, with a fraction and
  // "Z" or no offset after them; else kNoTime (TryIso reads it).
  int64_t FromIsoMemo(std::string_view line, bool* has_offset) const;
  // The line's syslog stamp finished from syslog_memo_, or kNoTime when it does not start with
  // the memo's second (or the year state moved on since).
  int64_t FromSyslogMemo(std::string_view line);
  // Unix ms of a stamp without a year, in the year the year state gives (which it moves), or
  // kNoTime when the fields are no valid time.
  int64_t YearlessToMs(int month, int day, int hour, int minute, int second, int millis);

  int year_;
  const TimeZone* zone_;
  int last_month_ = 0;
  int yearless_month_ = 0;  // of the stamp ParseStamp read last, if it had no year
  IsoMemo iso_memo_;
  SyslogMemo syslog_memo_;
};

// A rule's own time stamp: `text` (a capture) read with `format` — "auto" (any format
// EventTimeParser knows) or a strptime-style pattern such as "%b %e %H:%M:%S" read by cctz
// (with %z / %Ez for offsets, %f or %E*S for fractions of seconds) — as a wall-clock time in
// `zone` (null: UTC) unless the text carries its own UTC offset. Formats without a year take the
// year of `reference_ms` (the line's arrival time), or the year before when that would put the time
// more than a day after the reference (a December line read in January). nullopt if unreadable.
std::optional<int64_t> ParseRuleTimestamp(std::string_view text, const std::string& format,
                                          const TimeZone* zone, int64_t reference_ms);

// Unix milliseconds of a UTC civil time. REQUIRES: fields in range.
int64_t CivilToUnixMs(int year, int month, int day, int hour, int minute, int second, int millis);

}  // namespace ember::engine
