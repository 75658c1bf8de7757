// PatternScreen: finds, for many lines at once, which patterns may match each line, with one
// Hyperscan scan of the lines joined by '\n' (their tails cut by ScreenPattern in
// rules/pattern_syntax.h). A pattern the caller asks to be exact and that LineBoundPattern
// can write out is compiled exactly: a line it reports holds a match (on a line of ASCII
// without '\n'). The others report a superset of their matches, confirmed by the caller
// (RE2 stays their meaning): each is screened for its required literal (RequiredLiteral in
// rules/pattern_syntax.h) when that is long enough, else compiled in Hyperscan's prefilter
// mode. A pattern the screen reports nothing for on a pure-ASCII line cannot
// match it. Patterns Hyperscan cannot take exactly enough (not
// ASCII, \A \z \C, ungreedy mode, empty matches, or a compile error) are left unscreened:
// the caller runs RE2 for them on every line. Built without Hyperscan (EMBER_HAVE_HYPERSCAN
// unset, or a CPU without SSSE3), Build returns null and the caller keeps RE2::Set.
// Immutable after Build and thread-safe; Scan takes a per-thread Scratch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ember::rules {

class ScreenCache;

class PatternScreen {
 public:
  // Per-thread scan state (Hyperscan scratch space), sized for whichever screen uses it.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    struct Impl;
    Impl& impl() { return *impl_; }

   private:
    std::unique_ptr<Impl> impl_;
  };

  // Null when Hyperscan is unavailable or takes none of the patterns. `want_exact[i]`: pattern
  // i may be reported without confirmation (the caller needs no captures of it).
  // `cheap_confirm[i]`: the caller confirms a candidate of pattern i cheaply (not by running
  // RE2 over the line), so a short required literal, which lets more lines through, is
  // screened for too (absent: false). With a `cache`, a screen compiled before for the same
  // patterns on this Hyperscan and CPU is loaded from it, and a screen compiled here is
  // stored in it.
  static std::unique_ptr<PatternScreen> Build(const std::vector<std::string>& patterns,
                                              const std::vector<bool>& want_exact,
                                              const std::vector<bool>& cheap_confirm = {},
                                              const ScreenCache* cache = nullptr);
  ~PatternScreen();

  // Whether pattern i is screened (else the caller must run it on every line).
  bool screened(size_t i) const { return modes_[i] != Mode::kUnscreened; }
  size_t screened_count() const { return screened_count_; }
  // Whether a report of pattern i on an ASCII line without '\n' is a match (no confirmation).
  bool exact(size_t i) const { return modes_[i] == Mode::kExact; }
  // Whether pattern i is screened for its required literal (else for the pattern itself).
  bool by_literal(size_t i) const { return modes_[i] == Mode::kLiteral; }
  size_t exact_count() const { return exact_count_; }
  size_t pattern_count() const { return modes_.size(); }
  // Whether it was loaded from the cache, and how storing it there went (Ok when not tried).
  bool from_cache() const { return from_cache_; }
  const Status& store_status() const { return store_status_; }

  // Scans `text`: lines each followed by '\n', line k spanning [starts[k], starts[k+1] - 1)
  // (starts: one entry per line, then text.size()). Sets bit i of line k's row in
  // `bits` (rows of `words` 64-bit words, zeroed by the caller) when pattern i may match
  // line k. A match that crosses a line's end only ever adds candidates. False on a
  // Hyperscan error (then every line must be treated as a candidate for every pattern).
  bool Scan(std::string_view text, const std::vector<uint32_t>& starts, size_t words,
            uint64_t* bits, Scratch& scratch) const;

 private:
  PatternScreen() = default;
  static std::unique_ptr<PatternScreen> FromStored(std::string_view value, size_t patterns,
                                                   const std::vector<bool>& want_exact);
  struct Database;
  std::unique_ptr<Database> db_;
  // How each pattern is screened; stored as is with the database in the cache.
  enum class Mode : uint8_t { kUnscreened = 0, kPrefilter = 1, kExact = 2, kLiteral = 3 };
  std::vector<Mode> modes_;
  size_t screened_count_ = 0;
  size_t exact_count_ = 0;
  uint64_t serial_ = 0;  // unique per screen built: which one a Scratch is sized for
  bool from_cache_ = false;
  Status store_status_;
};

}  // namespace ember::rules
