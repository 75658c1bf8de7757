#include "engine/event_time.h"

#include <cctz/time_zone.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>

namespace ember::engine {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Whether `c` is one of the characters of the NUL-terminated `set` (never NUL itself).
bool IsOneOf(char c, const char* set) {
  for (; *set != '\0'; ++set) {
    if (*set == c) return true;
  }
  return false;
}

// A cursor that reads fixed-width fields; any mismatch makes ok() false.
class Cursor {
 public:
  Cursor(std::string_view s, size_t pos) : s_(s), pos_(pos) {}
  int Digits(size_t n) {
    if (!ok_ || pos_ + n > s_.size()) return Fail();
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (!IsDigit(c)) return Fail();
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    return v;
  }
  // One or two digits (a day padded with a space or not).
  int Digits12() {
    if (!ok_ || pos_ >= s_.size() || !IsDigit(s_[pos_])) return Fail();
    int v = s_[pos_++] - '0';
    if (pos_ < s_.size() && IsDigit(s_[pos_])) v = v * 10 + (s_[pos_++] - '0');
    return v;
  }
  void Lit(char c) {
    if (!ok_ || pos_ >= s_.size() || s_[pos_] != c) {
      Fail();
      return;
    }
    ++pos_;
  }
  bool TryLit(char c) {
    if (ok_ && pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void Spaces() {
    if (!ok_ || pos_ >= s_.size() || s_[pos_] != ' ') {
      Fail();
      return;
    }
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  // Optional fraction after '.' or ',' (or `sep` when given): returns milliseconds.
  int Fraction(const char* seps) {
    if (!ok_ || pos_ >= s_.size() || !IsOneOf(s_[pos_], seps) || pos_ + 1 >= s_.size() ||
        !IsDigit(s_[pos_ + 1])) {
      return 0;
    }
    ++pos_;
    int ms = 0, n = 0;
    while (pos_ < s_.size() && IsDigit(s_[pos_])) {
      if (n < 3) ms = ms * 10 + (s_[pos_] - '0');
      ++n;
      ++pos_;
    }
    for (; n < 3; ++n) ms *= 10;
    return ms;
  }
  // An optional UTC offset: "Z", "+HH:MM", "+HHMM" or "+HH" (or '-'), directly after the
  // time or after one space ("+HHMM" / "+HH:MM" only). Returns the offset east of UTC in ms
  // and sets *found; reads nothing when there is none.
  int64_t Offset(bool* found) {
    *found = false;
    if (!ok_ || pos_ >= s_.size()) return 0;
    if (s_[pos_] == 'Z' && (pos_ + 1 >= s_.size() || !IsAlnum(s_[pos_ + 1]))) {
      ++pos_;
      *found = true;
      return 0;
    }
    size_t at = pos_;
    const bool spaced = s_[at] == ' ';
    if (spaced) ++at;
    if (at >= s_.size() || (s_[at] != '+' && s_[at] != '-')) return 0;
    const int64_t sign = s_[at] == '-' ? -1 : 1;
    auto two = [&](size_t i, int* v) {
      if (i + 2 > s_.size() || !IsDigit(s_[i]) || !IsDigit(s_[i + 1])) return false;
      *v = (s_[i] - '0') * 10 + (s_[i + 1] - '0');
      return true;
    };
    int hours = 0, minutes = 0;
    size_t end = at + 1;
    if (!two(end, &hours)) return 0;
    end += 2;
    if (end < s_.size() && s_[end] == ':') {
      if (!two(end + 1, &minutes)) return 0;
      end += 3;
    } else if (two(end, &minutes)) {
      end += 2;
    } else if (spaced) {
      return 0;  // " +HH" alone is too ambiguous after a space
    }
    if (end < s_.size() && IsAlnum(s_[end])) return 0;
    if (hours > 14 || minutes > 59) return 0;
    pos_ = end;
    *found = true;
    return sign * (hours * 60 + minutes) * 60'000LL;
  }
  // True when the next character does not continue a number.
  bool AtNumberEnd() const { return pos_ >= s_.size() || !IsDigit(s_[pos_]); }
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }

 private:
  int Fail() {
    ok_ = false;
    return 0;
  }
  std::string_view s_;
  size_t pos_;
  bool ok_ = true;
};

bool ValidTime(int month, int day, int hour, int minute, int second) {
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
         second <= 60;
}

int MonthFromName(std::string_view s, size_t pos) {
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (pos + 3 > s.size()) return 0;
  const char* w = s.data() + pos;
  for (int m = 0; m < 12; ++m) {
    const char* name = kMonths + 3 * m;
    if (w[0] == name[0] && w[1] == name[1] && w[2] == name[2]) return m + 1;
  }
  return 0;
}

// A civil time being read; fields not in a format keep their defaults.
struct Civil {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
};

// Reads "HH<sep>MM<sep>SS" into t.
void ReadClock(Cursor& c, char sep, Civil* t) {
  t->hour = c.Digits(2);
  c.Lit(sep);
  t->minute = c.Digits(2);
  c.Lit(sep);
  t->second = c.Digits(2);
}

// Unix ms of t if the cursor read it cleanly and it is a valid time, else -1.
int64_t Finish(const Cursor& c, const Civil& t) {
  if (!c.ok() || !ValidTime(t.month, t.day, t.hour, t.minute, t.second)) return -1;
  return CivilToUnixMs(t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis);
}

// The 8 bytes at `p` as one word, for comparing stamps a word at a time in place (a call to
// memcmp costs more than the comparison).
uint64_t Word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Whether the IsoMemo::kPrefixBytes bytes at `a` and `b` are equal: three overlapping words.
bool SamePrefix(const char* a, const char* b) {
  constexpr size_t kLast = EventTimeParser::IsoMemo::kPrefixBytes - 8;
  static_assert(kLast >= 8 && kLast <= 16);
  return ((Word(a) ^ Word(b)) | (Word(a + 8) ^ Word(b + 8)) |
          (Word(a + kLast) ^ Word(b + kLast))) == 0;
}

// 2015-10-18 18:01:47,978 / 2017-05-16T00:00:00.008 / 2024-05-31T12:00:00+02:00 (RFC 3339,
// RFC 5424) and BGL's 2005-06-03-15.42.50.675872. A UTC offset is applied and noted in
// *has_offset.
int64_t TryIso(std::string_view s, size_t p, bool* has_offset, EventTimeParser::IsoMemo* memo) {
  Cursor c(s, p);
  Civil t;
  bool bgl = false;
  int64_t ms = -1;
  constexpr size_t kPrefix = EventTimeParser::IsoMemo::kPrefixBytes;
  if (memo->valid && p + kPrefix <= s.size() && SamePrefix(s.data() + p, memo->prefix)) {
    // The same date and second as the stamp read before: only the rest is read.
    c = Cursor(s, p + kPrefix);
    bgl = memo->bgl;
    t.millis = c.Fraction(".,");
    ms = memo->second_ms + t.millis;
  } else {
    t.year = c.Digits(4);
    c.Lit('-');
    t.month = c.Digits(2);
    c.Lit('-');
    t.day = c.Digits(2);
    if (!c.ok()) return -1;
    bgl = !c.TryLit('T') && !c.TryLit(' ');
    if (bgl) c.Lit('-');
    ReadClock(c, bgl ? '.' : ':', &t);
    t.millis = c.Fraction(".,");
    ms = Finish(c, t);
    if (ms >= 0) {
      std::memcpy(memo->prefix, s.data() + p, kPrefix);  // date, time: always kPrefix bytes
      memo->second_ms = ms - t.millis;
      memo->bgl = bgl;
      memo->valid = true;
    }
  }
  if (ms < 0 || bgl) return ms;
  bool zoned = false;
  const int64_t offset = c.Offset(&zoned);
  if (zoned && has_offset != nullptr) *has_offset = true;
  return ms - offset;
}

// Common log format (Apache, nginx): 10/Oct/2000:13:55:36 -0700.
int64_t TryClf(std::string_view s, size_t p, bool* has_offset) {
  Cursor c(s, p);
  Civil t;
  t.day = c.Digits(2);
  c.Lit('/');
  if (!c.ok()) return -1;
  t.month = MonthFromName(s, c.pos());
  if (t.month == 0) return -1;
  Cursor rest(s, c.pos() + 3);
  rest.Lit('/');
  t.year = rest.Digits(4);
  rest.Lit(':');
  ReadClock(rest, ':', &t);
  int64_t ms = Finish(rest, t);
  if (ms < 0) return -1;
  bool zoned = false;
  const int64_t offset = rest.Offset(&zoned);
  if (zoned && has_offset != nullptr) *has_offset = true;
  return ms - offset;
}

// 20171223-22:15:29:606
int64_t TryCompactDash(std::string_view s, size_t p) {
  Cursor c(s, p);
  Civil t;
  t.year = c.Digits(4);
  t.month = c.Digits(2);
  t.day = c.Digits(2);
  c.Lit('-');
  ReadClock(c, ':', &t);
  t.millis = c.Fraction(":.,");
  return Finish(c, t);
}

// 17/06/09 20:10:40 (Spark) and 081109 203615 (HDFS): two-digit years mean 20yy.
int64_t TryShortYear(std::string_view s, size_t p) {
  Cursor slashed(s, p);
  Civil t;
  t.year = 2000 + slashed.Digits(2);
  slashed.Lit('/');
  t.month = slashed.Digits(2);
  slashed.Lit('/');
  t.day = slashed.Digits(2);
  slashed.Lit(' ');
  ReadClock(slashed, ':', &t);
  if (slashed.AtNumberEnd()) {
    if (int64_t ms = Finish(slashed, t); ms >= 0) return ms;
  }
  if (p != 0) return -1;  // six-digit pairs are too ambiguous anywhere but the line start
  Cursor packed(s, p);
  t.year = 2000 + packed.Digits(2);
  t.month = packed.Digits(2);
  t.day = packed.Digits(2);
  packed.Lit(' ');
  t.hour = packed.Digits(2);
  t.minute = packed.Digits(2);
  t.second = packed.Digits(2);
  return packed.AtNumberEnd() ? Finish(packed, t) : -1;
}

int64_t TryEpoch(std::string_view s, size_t p) {
  size_t n = 0;
  while (p + n < s.size() && IsDigit(s[p + n])) ++n;
  if (n != 10 && n != 13) return -1;
  if (p + n < s.size() && (IsAlnum(s[p + n]) || s[p + n] == '.')) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (s[p + i] - '0');
  if (n == 10) v *= 1000;
  // 2000-01-01 .. 2100-01-01: anything else is a counter, not a time.
  if (v < 946684800000LL || v >= 4102444800000LL) return -1;
  return v;
}

}  // namespace

int64_t CivilToUnixMs(int year, int month, int day, int hour, int minute, int second, int millis) {
  // Howard Hinnant's days_from_civil.
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(month + (month > 2 ? -3 : 9)) + 2) / 5 +
                       static_cast<unsigned>(day) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  return ((days * 24 + hour) * 60 + minute) * 60'000LL + second * 1000LL + millis;
}

int64_t EventTimeParser::YearlessToMs(int month, int day, int hour, int minute, int second,
                                      int millis) {
  if (!ValidTime(month, day, hour, minute, second)) return kNoTime;
  set_year_state(year_state().Step(month));
  yearless_month_ = month;
  return CivilToUnixMs(year_, month, day, hour, minute, second, millis);
}

std::optional<int64_t> EventTimeParser::Parse(std::string_view line) {
  int yearless_month = 0;
  return Parse(line, &yearless_month);
}

std::optional<int64_t> EventTimeParser::Parse(std::string_view line, int* yearless_month) {
  const int64_t t = ParseMs(line, yearless_month);
  if (t == kNoTime) return std::nullopt;
  return t;
}

int64_t EventTimeParser::ParseMs(std::string_view line, int* yearless_month) {
  bool has_offset = false;
  yearless_month_ = 0;
  const int64_t t = StampMs(line, &has_offset);
  *yearless_month = yearless_month_;
  if (t != kNoTime && !has_offset && zone_ != nullptr) return zone_->LocalToUtc(t);
  return t;
}

std::optional<int64_t> EventTimeParser::ParseStamp(std::string_view line, bool* has_offset) {
  const int64_t t = StampMs(line, has_offset);
  if (t == kNoTime) return std::nullopt;
  return t;
}

int64_t EventTimeParser::StampMs(std::string_view line, bool* has_offset) {
  if (has_offset != nullptr) *has_offset = false;
  // Lines come in runs of one second, mostly with the stamp first: the date and clock read
  // last are not read again. Anything else is scanned for.
  constexpr size_t kIsoPrefix = IsoMemo::kPrefixBytes;
  if (iso_memo_.valid && line.size() >= kIsoPrefix && SamePrefix(line.data(), iso_memo_.prefix)) {
    if (const int64_t ms = FromIsoMemo(line, has_offset); ms != kNoTime) return ms;
    if (const int64_t ms = TryIso(line, 0, has_offset, &iso_memo_); ms >= 0) return ms;
  } else if (syslog_memo_.size != 0) {
    if (const int64_t ms = FromSyslogMemo(line); ms != kNoTime) return ms;
  }
  return ScanStamp(line, has_offset);
}

int64_t EventTimeParser::FromIsoMemo(std::string_view line, bool* has_offset) const {
  if (iso_memo_.bgl) return kNoTime;
  // The fraction (up to milliseconds, as Cursor::Fraction reads it), then the usual endings:
  // "Z" (UTC) or no offset at all. Offsets are left to TryIso.
  const size_t n = line.size();
  size_t i = IsoMemo::kPrefixBytes;
  int millis = 0;
  if (i + 1 < n && (line[i] == '.' || line[i] == ',') && IsDigit(line[i + 1])) {
    int digits = 0;
    for (++i; i < n && IsDigit(line[i]); ++i, ++digits) {
      if (digits < 3) millis = millis * 10 + (line[i] - '0');
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  const int64_t ms = iso_memo_.second_ms + millis;
  if (ms < 0) return kNoTime;
  if (i == n) return ms;
  const char next = line[i];
  if (next == 'Z') {
    if (i + 1 < n && IsAlnum(line[i + 1])) return kNoTime;
    if (has_offset != nullptr) *has_offset = true;
    return ms;
  }
  if (next == ' ' || next == '+' || next == '-') return kNoTime;  // maybe an offset
  return ms;
}

int64_t EventTimeParser::FromSyslogMemo(std::string_view line) {
  const SyslogMemo& memo = syslog_memo_;
  if (line.size() < SyslogMemo::kMaxPrefixBytes) return kNoTime;
  if ((((Word(line.data()) ^ Word(memo.prefix)) & memo.mask[0]) |
       ((Word(line.data() + 8) ^ Word(memo.prefix + 8)) & memo.mask[1])) != 0) {
    return kNoTime;
  }
  // What follows the clock decides as in ScanStamp: a fraction, and a year after it (Apache's
  // form, read there).
  Cursor c(line, memo.size);
  const int millis = c.Fraction(".");
  Cursor year_cursor(line, c.pos());
  year_cursor.Lit(' ');
  year_cursor.Digits(4);
  if (year_cursor.ok() && year_cursor.AtNumberEnd()) return kNoTime;
  const YearState next = year_state().Step(memo.month);
  if (next.year != memo.year) return kNoTime;
  set_year_state(next);
  yearless_month_ = memo.month;
  return memo.second_ms + millis;
}

int64_t EventTimeParser::ScanStamp(std::string_view line, bool* has_offset) {
  const size_t limit = std::min(line.size(), kScanBytes);
  for (size_t p = 0; p < limit; ++p) {
    char ch = line[p];
    if (p > 0 && IsAlnum(line[p - 1])) continue;  // only at the start of a word
    if (IsDigit(ch)) {
      int64_t ms = TryIso(line, p, has_offset, &iso_memo_);
      if (ms < 0) ms = TryClf(line, p, has_offset);
      if (ms < 0) ms = TryCompactDash(line, p);
      if (ms < 0) ms = TryShortYear(line, p);
      if (ms < 0) ms = TryEpoch(line, p);
      if (ms >= 0) return ms;
      // Yearless numeric forms: logcat "03-17 16:13:38.811", Proxifier "10.30 16:49:06".
      Cursor c(line, p);
      Civil t;
      t.month = c.Digits(2);
      char sep = p + 2 < line.size() ? line[p + 2] : 0;
      if (sep != '-' && sep != '.') continue;
      c.Lit(sep);
      t.day = c.Digits(2);
      c.Lit(' ');
      ReadClock(c, ':', &t);
      t.millis = c.Fraction(".");
      if (c.ok() && c.AtNumberEnd()) {
        if (int64_t ms = YearlessToMs(t.month, t.day, t.hour, t.minute, t.second, t.millis);
            ms != kNoTime) {
          return ms;
        }
      }
      continue;
    }
    if (int month = MonthFromName(line, p); month != 0) {
      // syslog "Jun 14 15:16:01", "Jul  1 09:00:55"; Apache adds " 2005" after the time.
      Cursor c(line, p + 3);
      Civil t;
      t.month = month;
      c.Spaces();
      t.day = c.Digits12();
      c.Lit(' ');
      ReadClock(c, ':', &t);
      const size_t clock_end = c.pos();
      t.millis = c.Fraction(".");
      if (!c.ok()) continue;
      Cursor year_cursor(line, c.pos());
      year_cursor.Lit(' ');
      t.year = year_cursor.Digits(4);
      if (year_cursor.AtNumberEnd()) {
        if (int64_t ms = Finish(year_cursor, t); ms >= 0) return ms;
      }
      if (int64_t ms = YearlessToMs(t.month, t.day, t.hour, t.minute, t.second, t.millis);
          ms != kNoTime) {
        if (p == 0 && clock_end <= SyslogMemo::kMaxPrefixBytes) {
          SyslogMemo& memo = syslog_memo_;
          memo = SyslogMemo{};
          std::memcpy(memo.prefix, line.data(), clock_end);
          char mask[SyslogMemo::kMaxPrefixBytes] = {};
          std::memset(mask, 0xFF, clock_end);
          std::memcpy(memo.mask, mask, sizeof mask);
          memo.size = clock_end;
          memo.month = t.month;
          memo.year = year_;
          memo.second_ms = ms - t.millis;
        }
        return ms;
      }
    }
  }
  return kNoTime;
}

namespace {

bool FormatHasYear(const std::string& format) {
  for (const char* y : {"%Y", "%y", "%E4Y", "%F", "%D", "%s", "%G", "%g", "%C"}) {
    if (format.find(y) != std::string::npos) return true;
  }
  return false;
}

// A strptime-style format in cctz's terms: %f (fractional seconds, as in Python) is %E*f.
std::string CctzFormat(const std::string& format) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '%' && i + 1 < format.size()) {
      if (format[i + 1] == 'f') {
        out += "%E*f";
      } else {
        out.append(format, i, 2);
      }
      ++i;
      continue;
    }
    out += format[i];
  }
  return out;
}

std::string_view Trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// `text` read with the strptime-style `format` in `zone` (an offset in the text wins), in
// `year` when the format has none. A fraction of seconds after the last field is read even
// when the format does not name it.
std::optional<int64_t> ParseFormatted(std::string_view text, const std::string& format,
                                      const cctz::time_zone& zone, int year) {
  // Most formats have no %f and a year: then neither is copied (this runs for every match).
  std::string translated;
  const std::string* fmt = &format;
  if (format.find("%f") != std::string::npos) {
    translated = CctzFormat(format);
    fmt = &translated;
  }
  std::string input(Trimmed(text.substr(0, 256)));
  if (!FormatHasYear(*fmt)) {
    translated = "%Y " + *fmt;
    fmt = &translated;
    input.insert(0, std::to_string(year) + " ");
  }
  std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds> tp;
  if (cctz::parse(*fmt, input, zone, &tp)) return tp.time_since_epoch().count();
  for (const char* fraction : {".%E*f", ",%E*f", ":%E*f"}) {
    if (cctz::parse(*fmt + fraction, input, zone, &tp)) return tp.time_since_epoch().count();
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseRuleTimestamp(std::string_view text, const std::string& format,
                                          const TimeZone* zone, int64_t reference_ms) {
  std::time_t ref = static_cast<std::time_t>(std::max<int64_t>(reference_ms, 0) / 1000);
  std::tm ref_tm{};
  gmtime_r(&ref, &ref_tm);
  const int year = ref_tm.tm_year + 1900;
  constexpr int64_t kDayMs = 86'400'000;
  auto parse = [&](int in_year) -> std::optional<int64_t> {
    if (format == "auto") {
      bool has_offset = false;
      std::optional<int64_t> t = EventTimeParser(in_year).ParseStamp(text, &has_offset);
      // A stamp without an offset is a wall-clock time in the rule's zone.
      if (t && !has_offset && zone != nullptr) return zone->LocalToUtc(*t);
      return t;
    }
    return ParseFormatted(text, format, zone != nullptr ? zone->zone() : cctz::utc_time_zone(),
                          in_year);
  };
  std::optional<int64_t> t = parse(year);
  if (t && *t > reference_ms + kDayMs) {
    if (std::optional<int64_t> before = parse(year - 1)) t = before;
  }
  return t;
}

}  // namespace ember::engine
