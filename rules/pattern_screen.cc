#include "rules/pattern_screen.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>

#include "rules/pattern_prefix.h"

#if defined(EMBER_HAVE_HYPERSCAN)
#include <hs/hs.h>
#endif

namespace ember::rules {

bool ScreenableSyntax(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto c = static_cast<unsigned char>(pattern[i]);
    if (c >= 0x80) return false;  // RE2 reads UTF-8, Hyperscan (here) bytes
    if (c == '\\' && i + 1 < pattern.size()) {
      // \A \z: text ends, which the joined lines do not have; \C: one byte, not one char;
      // \p \P: Unicode classes.
      const char e = pattern[++i];
      if (e == 'A' || e == 'z' || e == 'C' || e == 'p' || e == 'P') return false;
      continue;
    }
    if (c == '(' && i + 1 < pattern.size() && pattern[i + 1] == '?') {
      // A flag group: RE2's U (ungreedy) means something else to Hyperscan.
      for (size_t j = i + 2; j < pattern.size(); ++j) {
        const char f = pattern[j];
        if (f == 'U') return false;
        if (!((f >= 'a' && f <= 'z') || f == '-')) break;
      }
    }
  }
  return true;
}

namespace {

enum class Token { kAtom, kZeroWidth, kOpen, kClose, kAlternation, kQuantifier };

struct Piece {
  Token kind;
  size_t begin, end;  // in the pattern
  size_t open = 0;    // kClose: index of its kOpen
};

// Splits an RE2 pattern into the pieces ScreenPattern needs; false if it holds something not
// followed here (\Q quoting, an unbalanced group, a class that does not end).
bool Tokenize(std::string_view p, std::vector<Piece>* out) {
  out->clear();
  std::vector<size_t> opens;
  size_t i = 0;
  while (i < p.size()) {
    const size_t begin = i;
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return false;
      const char e = p[i + 1];
      if (e == 'Q' || e == 'E') return false;
      i += 2;
      if ((e == 'x' || e == 'p' || e == 'P') && i < p.size() && p[i] == '{') {
        const size_t close = p.find('}', i);
        if (close == std::string_view::npos) return false;
        i = close + 1;
      } else if (e == 'x') {
        i = std::min(p.size(), i + 2);
      } else if ((e == 'p' || e == 'P') && i < p.size()) {
        ++i;
      }
      const bool zero = e == 'b' || e == 'B' || e == 'A' || e == 'z';
      out->push_back({zero ? Token::kZeroWidth : Token::kAtom, begin, i});
    } else if (c == '[') {
      const size_t close = ClassEnd(p, i);
      if (close == std::string_view::npos) return false;
      i = close + 1;
      out->push_back({Token::kAtom, begin, i});
    } else if (c == '(') {
      // (?flags) alone sets flags: zero width. Other groups open.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '?') {
        ++j;
        while (j < p.size() && ((p[j] >= 'a' && p[j] <= 'z') || p[j] == '-')) ++j;
        if (j < p.size() && p[j] == ')') {
          i = j + 1;
          out->push_back({Token::kZeroWidth, begin, i});
          continue;
        }
      }
      ++i;
      opens.push_back(out->size());
      out->push_back({Token::kOpen, begin, i});
    } else if (c == ')') {
      if (opens.empty()) return false;
      ++i;
      out->push_back({Token::kClose, begin, i, opens.back()});
      opens.pop_back();
    } else if (c == '|') {
      ++i;
      out->push_back({Token::kAlternation, begin, i});
    } else if (c == '*' || c == '+' || c == '?' || c == '{') {
      if (c == '{') {
        // A repetition {n}, {n,} or {n,m}; anything else is a literal '{'.
        size_t j = i + 1;
        while (j < p.size() && (std::isdigit(static_cast<unsigned char>(p[j])) || p[j] == ',')) ++j;
        if (j >= p.size() || p[j] != '}' || j == i + 1 ||
            !std::isdigit(static_cast<unsigned char>(p[i + 1]))) {
          ++i;
          out->push_back({Token::kAtom, begin, i});
          continue;
        }
        i = j + 1;
      } else {
        ++i;
      }
      if (i < p.size() && p[i] == '?') ++i;  // lazy
      out->push_back({Token::kQuantifier, begin, i});
    } else {
      ++i;
      const bool zero = c == '^' || c == '$';
      out->push_back({zero ? Token::kZeroWidth : Token::kAtom, begin, i});
    }
  }
  return opens.empty();
}

}  // namespace

std::string ScreenPattern(std::string_view pattern) {
  std::string p(pattern);
  std::vector<Piece> pieces;
  for (int round = 0; round < 64 && Tokenize(p, &pieces); ++round) {
    // The last piece that is not a group's end: a quantifier, or nothing to cut.
    size_t q = pieces.size();
    while (q > 0 && pieces[q - 1].kind == Token::kClose) --q;
    if (q < 2 || pieces[q - 1].kind != Token::kQuantifier) break;
    const Piece& quant = pieces[q - 1];
    const Piece& atom = pieces[q - 2];
    if (atom.kind != Token::kAtom && atom.kind != Token::kClose) break;
    const size_t atom_begin = atom.kind == Token::kClose ? pieces[atom.open].begin : atom.begin;
    const size_t atom_first = atom.kind == Token::kClose ? atom.open : q - 2;
    const std::string_view q_text =
        std::string_view(p).substr(quant.begin, quant.end - quant.begin);
    size_t min = 0;
    if (q_text[0] == '+') {
      min = 1;
    } else if (q_text[0] == '{') {
      min = static_cast<size_t>(std::strtoul(std::string(q_text.substr(1)).c_str(), nullptr, 10));
    }
    if (min >= 1) {
      // Exactly `min` repetitions: "+" goes, "{n,m}" becomes "{n}".
      const std::string keep = min == 1 ? "" : "{" + std::to_string(min) + "}";
      if (q_text == keep) break;  // already exact
      p.replace(quant.begin, quant.end - quant.begin, keep);
    } else {
      // Zero repetitions do: the atom goes, unless it is all of its branch (an empty branch
      // would let every line match).
      if (atom_first == 0) break;
      const Token before = pieces[atom_first - 1].kind;
      if (before == Token::kOpen || before == Token::kAlternation) break;
      p.erase(atom_begin, quant.end - atom_begin);
    }
  }
  return p;
}

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
}  // namespace

PatternScreen::Scratch::Scratch() : impl_(std::make_unique<Impl>()) {}
PatternScreen::Scratch::~Scratch() = default;
PatternScreen::~PatternScreen() = default;

std::unique_ptr<PatternScreen> PatternScreen::Build(const std::vector<std::string>& patterns) {
  if (patterns.empty() || hs_valid_platform() != HS_SUCCESS) return nullptr;
  std::unique_ptr<PatternScreen> screen(new PatternScreen());
  screen->screened_.assign(patterns.size(), 0);
  std::vector<unsigned> ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (ScreenableSyntax(patterns[i])) ids.push_back(static_cast<unsigned>(i));
  }
  // Compile the screenable ones together; drop each pattern Hyperscan refuses and try again.
  while (!ids.empty()) {
    std::vector<std::string> texts;
    std::vector<const char*> expressions;
    for (unsigned id : ids) texts.push_back(ScreenPattern(patterns[id]));
    for (const auto& text : texts) expressions.push_back(text.c_str());
    // Prefilter: a superset of the matches; multiline: ^ and $ at each line's ends, as RE2
    // sees them on one line.
    const std::vector<unsigned> flags(ids.size(), HS_FLAG_PREFILTER | HS_FLAG_MULTILINE);
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
    ids.erase(ids.begin() + bad);
  }
  if (ids.empty()) return nullptr;
  screen->serial_ = next_serial.fetch_add(1);
  for (unsigned id : ids) screen->screened_[id] = 1;
  screen->screened_count_ = ids.size();
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
    c.line = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), last) -
                                 starts.begin() - 1);
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

std::unique_ptr<PatternScreen> PatternScreen::Build(const std::vector<std::string>&) {
  return nullptr;
}

bool PatternScreen::Scan(std::string_view, const std::vector<uint32_t>&, size_t, uint64_t*,
                         Scratch&) const {
  return false;
}

#endif

}  // namespace ember::rules
