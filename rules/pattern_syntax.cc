#include "rules/pattern_syntax.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <vector>

namespace ember::rules {
namespace {

// Characters that stand for themselves in RE2 outside a class.
bool IsPlainLiteral(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80 || u < 0x20) return false;
  return std::string_view(".[](){}*+?^$|\\").find(c) == std::string_view::npos;
}

// Where the class opening at p[open] ('[') ends: its closing ']' (the first that is not its
// first member, outside [:name:] and escapes), or npos.
size_t ClassEnd(std::string_view p, size_t open) {
  size_t j = open + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  for (; j < p.size() && p[j] != ']'; ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      const size_t close = p.find(":]", j + 2);
      if (close == std::string_view::npos) return std::string_view::npos;
      j = close + 1;
    }
  }
  return j < p.size() ? j : std::string_view::npos;
}

enum class Token { kAtom, kZeroWidth, kOpen, kClose, kAlternation, kQuantifier };

struct Piece {
  Token kind;
  size_t begin, end;  // in the pattern
  size_t open = 0;    // kClose: index of its kOpen
};

// Splits an RE2 pattern into pieces; false if it holds something not followed here (\Q
// quoting, an unknown group syntax, an unbalanced group, a class that does not end).
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
      // "(?flags)" sets flags: zero width. "(", "(?flags:", "(?P<name>" open a group.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '?') {
        ++j;
        while (j < p.size() && (std::isalpha(static_cast<unsigned char>(p[j])) || p[j] == '-')) {
          if (p[j] == 'P' && j + 1 < p.size() && p[j + 1] == '<') break;
          ++j;
        }
        if (j >= p.size()) return false;
        if (p[j] == ')') {
          i = j + 1;
          out->push_back({Token::kZeroWidth, begin, i});
          continue;
        }
        if (p[j] == ':') {
          j += 1;
        } else if (p[j] == 'P' || p[j] == '<') {
          const size_t close = p.find('>', j);
          if (close == std::string_view::npos) return false;
          j = close + 1;
        } else {
          return false;
        }
      }
      i = j;
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

// The '|' outside every group, if any.
bool HasTopLevelAlternation(const std::vector<Piece>& pieces) {
  int depth = 0;
  for (const Piece& piece : pieces) {
    if (piece.kind == Token::kOpen) ++depth;
    if (piece.kind == Token::kClose) --depth;
    if (piece.kind == Token::kAlternation && depth == 0) return true;
  }
  return false;
}

// Escapes that read the same to RE2 and Hyperscan and cannot match '\n', in or out of a class.
bool SameEscape(char e) {
  return !std::isalnum(static_cast<unsigned char>(e)) ||
         std::string_view("dwtrf").find(e) != std::string_view::npos;
}

// A class `text` ("[...]") rewritten to exclude '\n'; "" when a member may read otherwise.
std::string LineBoundClass(std::string_view text) {
  const bool negated = text.size() > 2 && text[1] == '^';
  for (size_t j = negated ? 2 : 1; j + 1 < text.size(); ++j) {
    const auto c = static_cast<unsigned char>(text[j]);
    if (c == '\\') {
      if (!SameEscape(text[++j])) return "";
    } else if (c == '[' && text[j + 1] == ':') {
      const size_t close = text.find(":]", j + 2);
      static constexpr std::string_view kSame[] = {"alpha", "digit", "alnum",  "upper",
                                                   "lower", "punct", "xdigit", "word",
                                                   "print", "graph", "blank"};
      const std::string_view name = text.substr(j + 2, close - j - 2);
      if (std::find(std::begin(kSame), std::end(kSame), name) == std::end(kSame)) return "";
      j = close + 1;
    } else if (c < 0x20 || c >= 0x7f) {
      return "";
    }
  }
  std::string out(text);
  if (negated) out.insert(out.size() - 1, "\\n");
  return out;
}

}  // namespace

std::string LineBoundPattern(std::string_view p) {
  std::vector<Piece> pieces;
  if (!ScreenableSyntax(p) || !Tokenize(p, &pieces)) return "";
  std::string out;
  for (const Piece& piece : pieces) {
    const std::string_view text = p.substr(piece.begin, piece.end - piece.begin);
    if (text.size() >= 2 && text[0] == '(' && text[1] == '?') {
      // Named groups, or flags: only i (case folds alike in both on ASCII).
      const bool named = text.substr(0, 4) == "(?P<" || text.substr(0, 3) == "(?<";
      if (!named && text.find_first_not_of("i-", 2) != text.size() - 1) return "";
      out += text;
    } else if (piece.kind != Token::kAtom) {
      out += text;
    } else if (text[0] == '\\') {
      if (text.size() != 2) return "";  // \x{..} and the like
      const char e = text[1];
      if (SameEscape(e)) {
        out += text;
      } else if (e == 's') {
        out += "[\\t\\f\\r ]";
      } else if (e == 'S') {
        out += "[^\\t\\n\\f\\r ]";
      } else if (e == 'W') {
        out += "[^0-9A-Za-z_\\n]";
      } else if (e == 'D') {
        out += "[^0-9\\n]";
      } else {
        return "";
      }
    } else if (text[0] == '[') {
      const std::string cls = LineBoundClass(text);
      if (cls.empty()) return "";
      out += cls;
    } else {
      const auto c = static_cast<unsigned char>(text[0]);
      if (c < 0x20 || c >= 0x7f) return "";
      out += text;
    }
  }
  return out;
}

namespace {

// The character an atom stands for, if it is one plain ASCII character or escaped
// punctuation (\[ \. \| ...).
bool LiteralChar(std::string_view text, char* c) {
  if (text.size() == 1 && IsPlainLiteral(text[0])) {
    *c = text[0];
    return true;
  }
  if (text.size() == 2 && text[0] == '\\' && !std::isalnum(static_cast<unsigned char>(text[1])) &&
      static_cast<unsigned char>(text[1]) >= 0x20 && static_cast<unsigned char>(text[1]) < 0x80) {
    *c = text[1];
    return true;
  }
  return false;
}

}  // namespace

std::string LiteralPrefix(std::string_view p) {
  std::vector<Piece> pieces;
  if (!Tokenize(p, &pieces) || HasTopLevelAlternation(pieces)) return "";
  std::string prefix;
  size_t k = 0;
  char c = 0;
  for (; k < pieces.size() && pieces[k].kind == Token::kAtom &&
         LiteralChar(p.substr(pieces[k].begin, pieces[k].end - pieces[k].begin), &c);
       ++k) {
    prefix.push_back(c);
  }
  // A quantifier after the run applies to its last character, which may then be absent.
  if (!prefix.empty() && k < pieces.size() && pieces[k].kind == Token::kQuantifier) {
    prefix.pop_back();
  }
  return prefix;
}

std::string RequiredLiteral(std::string_view p, bool* caseless) {
  *caseless = false;
  std::vector<Piece> pieces;
  if (!Tokenize(p, &pieces) || HasTopLevelAlternation(pieces)) return "";
  std::string best, run;
  int depth = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const Piece& piece = pieces[k];
    const std::string_view text = p.substr(piece.begin, piece.end - piece.begin);
    // Flags anywhere: with i the run may match in any case (a superset either way).
    if (text.size() >= 2 && text[0] == '(' && text[1] == '?' &&
        text.substr(0, text.find_first_of(":)<")).find('i') != std::string_view::npos) {
      *caseless = true;
    }
    char c = 0;
    const bool literal = depth == 0 && piece.kind == Token::kAtom && LiteralChar(text, &c);
    // A quantifier after a character makes it optional: the run ends without it.
    const bool repeated = k + 1 < pieces.size() && pieces[k + 1].kind == Token::kQuantifier;
    if (literal && !repeated) {
      run.push_back(c);
    } else {
      if (run.size() > best.size()) best = run;
      run.clear();
    }
    if (piece.kind == Token::kOpen) ++depth;
    if (piece.kind == Token::kClose) --depth;
  }
  if (run.size() > best.size()) best = run;
  return best;
}

bool ScreenableSyntax(std::string_view pattern) {
  for (unsigned char c : pattern) {
    if (c >= 0x80) return false;  // RE2 reads UTF-8, Hyperscan (here) bytes
  }
  std::vector<Piece> pieces;
  if (!Tokenize(pattern, &pieces)) return false;
  for (const Piece& piece : pieces) {
    const std::string_view text = pattern.substr(piece.begin, piece.end - piece.begin);
    // \A \z: text ends, which the joined lines do not have; \C: one byte, not one char;
    // \p \P: Unicode classes.
    if (text.size() >= 2 && text[0] == '\\' &&
        std::string_view("AzCpP").find(text[1]) != std::string_view::npos) {
      return false;
    }
    // A flag group: RE2's U (ungreedy) means something else to Hyperscan.
    if (text.size() >= 2 && text[0] == '(' && text[1] == '?' &&
        text.substr(0, text.find_first_of(":)<")).find('U') != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

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

}  // namespace ember::rules
