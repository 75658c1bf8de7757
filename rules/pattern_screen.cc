#include "rules/pattern_screen.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include "rules/pattern_syntax.h"
#include "rules/screen_cache.h"

#if defined(EMBER_HAVE_HYPERSCAN)
#include <hs/hs.h>
#endif

namespace ember::rules {

#if defined(EMBER_HAVE_HYPERSCAN)

struct PatternScreen::Database {
  hs_database_t* db = nullptr;
  ~Database() { hs_free_database(db); }
};

struct PatternScreen::Scratch::Impl {
  hs_scratch_t* scratch = nullptr;
  // The screen the scratch was last sized for, by serial number: a new screen (a rules
  // reload) may get the address of a freed one.
  uint64_t sized_for = 0;
  ~Impl() { hs_free_scratch(scratch); }
};

namespace {

std::atomic<uint64_t> next_serial{1};

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t GetU32(std::string_view& in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(4);
  return v;
}

// A pattern the caller confirms anyway (not exact) is screened for its required literal
// instead of itself: Hyperscan finds literals alone several times faster than it runs the
// classes and repeats around them (docs/benchmarks.md). The literal needs this many
// characters when the confirmation is cheap (the walk, which fails fast on a line the literal
// let through), and kLongScreenLiteral when it runs RE2 over the line: a short literal can be
// far commoner than the pattern's matches.
constexpr size_t kMinScreenLiteral = 4;
constexpr size_t kLongScreenLiteral = 8;

bool Flag(const std::vector<bool>& flags, size_t i) { return i < flags.size() && flags[i]; }

// `literal` as a Hyperscan expression that matches exactly it: every byte but letters and
// digits written as \xHH.
std::string HyperscanLiteral(std::string_view literal) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// Everything the compiled screen depends on: how its value stores each pattern's mode,
// Hyperscan's version and the CPU it tunes for, how patterns that are not exact are screened, and
// each pattern with whether it may be exact and whether its confirmation is cheap.
std::string CacheKey(const std::vector<std::string>& patterns, const std::vector<bool>& want_exact,
                     const std::vector<bool>& cheap_confirm) {
  std::string key =
      "hyperscan screen (modes: prefilter 1, exact 2, literal 3), required literals of " +
      std::to_string(kMinScreenLiteral) + "+/" + std::to_string(kLongScreenLiteral) + "+ ";
  key += hs_version();
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    key += " tune " + std::to_string(platform.tune) + " features " +
           std::to_string(platform.cpu_features);
  }
  key += '\n';
  for (size_t i = 0; i < patterns.size(); ++i) {
    key += Flag(want_exact, i) ? 'e' : 'p';
    key += Flag(cheap_confirm, i) ? 'c' : 'r';
    PutU32(key, static_cast<uint32_t>(patterns[i].size()));
    key += patterns[i];
  }
  return key;
}

}  // namespace

PatternScreen::Scratch::Scratch() : impl_(std::make_unique<Impl>()) {}
PatternScreen::Scratch::~Scratch() = default;
PatternScreen::~PatternScreen() = default;

std::unique_ptr<PatternScreen> PatternScreen::Build(const std::vector<std::string>& patterns,
                                                    const std::vector<bool>& want_exact,
                                                    const std::vector<bool>& cheap_confirm,
                                                    const ScreenCache* cache) {
  if (patterns.empty() || hs_valid_platform() != HS_SUCCESS) return nullptr;
  std::string key;
  if (cache != nullptr) {
    key = CacheKey(patterns, want_exact, cheap_confirm);
    if (std::optional<std::string> stored = cache->Load(key)) {
      if (auto screen = FromStored(*stored, patterns.size(), want_exact)) return screen;
    }
  }
  std::unique_ptr<PatternScreen> screen(new PatternScreen());
  screen->modes_.assign(patterns.size(), Mode::kUnscreened);
  std::vector<unsigned> ids;
  std::vector<std::string> exact_texts(patterns.size());    // "": prefilter mode
  std::vector<std::string> literal_texts(patterns.size());  // else: the required literal
  std::vector<uint8_t> caseless(patterns.size(), 0);
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!ScreenableSyntax(patterns[i])) continue;
    ids.push_back(static_cast<unsigned>(i));
    if (Flag(want_exact, i)) exact_texts[i] = LineBoundPattern(ScreenPattern(patterns[i]));
    bool folded = false;
    const std::string literal = RequiredLiteral(patterns[i], &folded);
    if (literal.size() >= (Flag(cheap_confirm, i) ? kMinScreenLiteral : kLongScreenLiteral)) {
      literal_texts[i] = HyperscanLiteral(literal);
      caseless[i] = folded ? 1 : 0;
    }
  }
  // Compile the screenable ones together; a pattern Hyperscan refuses is tried again in
  // prefilter mode if it was exact, else dropped.
  while (!ids.empty()) {
    std::vector<std::string> texts;
    std::vector<const char*> expressions;
    // Multiline: ^ and $ at each line's ends, as RE2 sees them on one line. Prefilter: a
    // superset of the matches.
    std::vector<unsigned> flags;
    for (unsigned id : ids) {
      const bool exact = !exact_texts[id].empty();
      if (exact) {
        texts.push_back(exact_texts[id]);
        flags.push_back(HS_FLAG_MULTILINE);
      } else if (!literal_texts[id].empty()) {
        texts.push_back(literal_texts[id]);
        flags.push_back(HS_FLAG_MULTILINE | (caseless[id] != 0 ? HS_FLAG_CASELESS : 0u));
      } else {
        texts.push_back(ScreenPattern(patterns[id]));
        flags.push_back(HS_FLAG_MULTILINE | HS_FLAG_PREFILTER);
      }
    }
    for (const auto& text : texts) expressions.push_back(text.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(ids.size()), HS_MODE_BLOCK, nullptr, &db,
                         &error) == HS_SUCCESS) {
      screen->db_ = std::make_unique<Database>();
      screen->db_->db = db;
      break;
    }
    const int bad = error != nullptr ? error->expression : -1;
    hs_free_compile_error(error);
    if (bad < 0 || static_cast<size_t>(bad) >= ids.size()) return nullptr;
    if (!exact_texts[ids[bad]].empty()) {
      exact_texts[ids[bad]].clear();
    } else {
      ids.erase(ids.begin() + bad);
    }
  }
  if (ids.empty()) return nullptr;
  screen->serial_ = next_serial.fetch_add(1);
  for (unsigned id : ids) {
    screen->modes_[id] = !exact_texts[id].empty()     ? Mode::kExact
                         : !literal_texts[id].empty() ? Mode::kLiteral
                                                      : Mode::kPrefilter;
    screen->exact_count_ += screen->exact(id) ? 1 : 0;
  }
  screen->screened_count_ = ids.size();
  if (cache != nullptr) {
    // ids with their modes, then the database; a failed store only costs the next start.
    char* bytes = nullptr;
    size_t length = 0;
    if (hs_serialize_database(screen->db_->db, &bytes, &length) == HS_SUCCESS) {
      std::string value;
      PutU32(value, static_cast<uint32_t>(ids.size()));
      for (unsigned id : ids) {
        PutU32(value, id);
        value += static_cast<char>(screen->modes_[id]);
      }
      value.append(bytes, length);
      std::free(bytes);
      screen->store_status_ = cache->Store(key, value);
    }
  }
  return screen;
}

// A screen from a cached value, checked against the patterns it is for; null if it does not
// fit them (then it is compiled again).
std::unique_ptr<PatternScreen> PatternScreen::FromStored(std::string_view value, size_t patterns,
                                                         const std::vector<bool>& want_exact) {
  if (value.size() < 4) return nullptr;
  const uint32_t count = GetU32(value);
  if (count == 0 || count > patterns || value.size() < size_t{count} * 5) return nullptr;
  std::unique_ptr<PatternScreen> screen(new PatternScreen());
  screen->modes_.assign(patterns, Mode::kUnscreened);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t id = GetU32(value);
    const auto mode = static_cast<uint8_t>(value[0]);
    value.remove_prefix(1);
    if (id >= patterns || screen->modes_[id] != Mode::kUnscreened) return nullptr;
    if (mode < static_cast<uint8_t>(Mode::kPrefilter) ||
        mode > static_cast<uint8_t>(Mode::kLiteral)) {
      return nullptr;
    }
    screen->modes_[id] = static_cast<Mode>(mode);
    if (screen->exact(id) && !Flag(want_exact, id)) return nullptr;
    screen->exact_count_ += screen->exact(id) ? 1 : 0;
  }
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(value.data(), value.size(), &db) != HS_SUCCESS) return nullptr;
  screen->db_ = std::make_unique<Database>();
  screen->db_->db = db;
  screen->screened_count_ = count;
  screen->serial_ = next_serial.fetch_add(1);
  screen->from_cache_ = true;
  return screen;
}

namespace {

struct ScanContext {
  const std::vector<uint32_t>* starts;
  size_t words;
  uint64_t* bits;
  size_t line = 0;  // the line of the previous match: most matches come in order
};

int OnScreenMatch(unsigned id, unsigned long long, unsigned long long to, unsigned, void* arg) {
  auto& c = *static_cast<ScanContext*>(arg);
  const std::vector<uint32_t>& starts = *c.starts;
  const auto last = static_cast<uint32_t>(to - 1);  // matches are never empty
  if (!(starts[c.line] <= last && last < starts[c.line + 1])) {
    // Most often on one of the next few lines; else searched for.
    size_t line = c.line;
    if (starts[line] <= last) {
      for (int step = 0; step < 4 && last >= starts[line + 1]; ++step) ++line;
    }
    if (!(starts[line] <= last && last < starts[line + 1])) {
      line = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), last) -
                                 starts.begin() - 1);
    }
    c.line = line;
  }
  c.bits[c.line * c.words + id / 64] |= uint64_t{1} << (id % 64);
  return 0;
}

}  // namespace

bool PatternScreen::Scan(std::string_view text, const std::vector<uint32_t>& starts, size_t words,
                         uint64_t* bits, Scratch& scratch) const {
  if (starts.size() < 2) return true;
  Scratch::Impl& s = scratch.impl();
  if (s.sized_for != serial_) {
    if (hs_alloc_scratch(db_->db, &s.scratch) != HS_SUCCESS) return false;
    s.sized_for = serial_;
  }
  ScanContext context{&starts, words, bits};
  return hs_scan(db_->db, text.data(), static_cast<unsigned>(text.size()), 0, s.scratch,
                 OnScreenMatch, &context) == HS_SUCCESS;
}

#else  // built without Hyperscan: no screen, RE2::Set decides every line

struct PatternScreen::Database {};
struct PatternScreen::Scratch::Impl {};
PatternScreen::Scratch::Scratch() : impl_(std::make_unique<Impl>()) {}
PatternScreen::Scratch::~Scratch() = default;
PatternScreen::~PatternScreen() = default;

std::unique_ptr<PatternScreen> PatternScreen::Build(const std::vector<std::string>&,
                                                    const std::vector<bool>&,
                                                    const std::vector<bool>&, const ScreenCache*) {
  return nullptr;
}

bool PatternScreen::Scan(std::string_view, const std::vector<uint32_t>&, size_t, uint64_t*,
                         Scratch&) const {
  return false;
}

#endif

}  // namespace ember::rules
