#include "rules/direct_capture.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ember::rules {
namespace {

using Node = DirectCapture::Node;
using Sequence = DirectCapture::Sequence;
using Set = std::array<uint64_t, 2>;

constexpr size_t kUnbounded = SIZE_MAX;
constexpr int kMaxGroups = 31;
constexpr size_t kMaxCount = 1000;  // RE2's bound on {n,m}
constexpr int kMaxDepth = 16;

void Add(Set& s, unsigned char c) { s[c >> 6] |= uint64_t{1} << (c & 63); }
void AddRange(Set& s, unsigned char lo, unsigned char hi) {
  for (unsigned c = lo; c <= hi; ++c) Add(s, static_cast<unsigned char>(c));
}
bool Has(const Set& s, unsigned char c) { return c < 128 && ((s[c >> 6] >> (c & 63)) & 1) != 0; }

// Spells each set out by byte: one load per character in the walk.
void FillTables(Sequence& seq) {
  for (Node& n : seq) {
    if (n.kind == Node::Kind::kSet) {
      for (unsigned c = 0; c < 256; ++c) n.takes[c] = Has(n.set, static_cast<unsigned char>(c));
    }
    for (Sequence& alt : n.alternatives) FillTables(alt);
  }
}
Set Complement(const Set& s) {
  Set out{~s[0], ~s[1]};
  return out;
}
Set Union(const Set& a, const Set& b) { return {a[0] | b[0], a[1] | b[1]}; }
bool Disjoint(const Set& a, const Set& b) { return ((a[0] & b[0]) | (a[1] & b[1])) == 0; }

// RE2's Perl classes, on ASCII.
bool PerlClass(char e, Set* out) {
  Set s{};
  switch (e) {
    case 'd':
    case 'D':
      AddRange(s, '0', '9');
      break;
    case 'w':
    case 'W':
      AddRange(s, '0', '9');
      AddRange(s, 'A', 'Z');
      AddRange(s, 'a', 'z');
      Add(s, '_');
      break;
    case 's':
    case 'S':
      for (char c : {'\t', '\n', '\f', '\r', ' '}) Add(s, static_cast<unsigned char>(c));
      break;
    default:
      return false;
  }
  *out = (e >= 'A' && e <= 'Z') ? Complement(s) : s;
  return true;
}

// The character an escape outside \d\w\s stands for: \t \n \r \f and escaped punctuation.
bool EscapedChar(char e, char* out) {
  switch (e) {
    case 't':
      *out = '\t';
      return true;
    case 'n':
      *out = '\n';
      return true;
    case 'r':
      *out = '\r';
      return true;
    case 'f':
      *out = '\f';
      return true;
    default:
      break;
  }
  const auto u = static_cast<unsigned char>(e);
  if (u < 0x21 || u > 0x7e || std::isalnum(u) != 0) return false;
  *out = e;
  return true;
}

bool Printable(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u <= 0x7e;
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  bool Parse(Sequence* root) {
    std::vector<Sequence> alternatives;
    if (!Alternatives(&alternatives, 0) || i_ != p_.size()) return false;
    if (alternatives.size() == 1) {
      *root = std::move(alternatives[0]);
    } else {
      Node group;
      group.kind = Node::Kind::kGroup;
      group.alternatives = std::move(alternatives);
      root->push_back(std::move(group));
    }
    return true;
  }
  int groups() const { return groups_; }

 private:
  bool Alternatives(std::vector<Sequence>* out, int depth) {
    if (depth > kMaxDepth) return false;
    out->emplace_back();
    while (i_ < p_.size() && p_[i_] != ')') {
      if (p_[i_] == '|') {
        ++i_;
        out->emplace_back();
        continue;
      }
      if (!Item(&out->back(), depth)) return false;
    }
    return true;
  }

  bool Item(Sequence* seq, int depth) {
    const char c = p_[i_];
    if (c == '(') return Group(seq, depth);
    Set set{};
    char literal = 0;
    bool is_literal = false;
    if (c == '[') {
      if (!Class(&set)) return false;
    } else if (c == '.') {
      set = Complement(Set{});
      set[0] &= ~(uint64_t{1} << '\n');
      ++i_;
    } else if (c == '\\') {
      if (i_ + 1 >= p_.size()) return false;
      const char e = p_[i_ + 1];
      i_ += 2;
      if (!PerlClass(e, &set)) {
        if (!EscapedChar(e, &literal)) return false;
        is_literal = true;
      }
    } else if (std::string_view("*+?{^$").find(c) != std::string_view::npos || !Printable(c)) {
      return false;
    } else {
      literal = c;
      is_literal = true;
      ++i_;
    }
    size_t min = 1, max = 1;
    if (!Quantifier(&min, &max)) return false;
    if (is_literal && min == 1 && max == 1) {
      if (seq->empty() || seq->back().kind != Node::Kind::kLiteral) {
        seq->emplace_back();
      }
      seq->back().literal.push_back(literal);
      return true;
    }
    if (is_literal) Add(set, static_cast<unsigned char>(literal));
    Node node;
    node.kind = Node::Kind::kSet;
    node.set = set;
    node.min = min;
    node.max = max;
    seq->push_back(std::move(node));
    return true;
  }

  // A quantifier after an atom, if any; false on one outside the subset (lazy, {,n}, a
  // second one).
  bool Quantifier(size_t* min, size_t* max) {
    if (i_ >= p_.size()) return true;
    const char c = p_[i_];
    if (c == '?') {
      *min = 0;
    } else if (c == '*') {
      *min = 0;
      *max = kUnbounded;
    } else if (c == '+') {
      *max = kUnbounded;
    } else if (c == '{') {
      size_t j = i_ + 1;
      size_t n = 0, m = 0;
      if (!Number(&j, &n)) return false;
      m = n;
      if (j < p_.size() && p_[j] == ',') {
        ++j;
        m = kUnbounded;
        if (j < p_.size() && p_[j] != '}' && !Number(&j, &m)) return false;
      }
      if (j >= p_.size() || p_[j] != '}' || m < n || m == 0) return false;
      *min = n;
      *max = m;
      i_ = j;
    } else {
      return true;
    }
    ++i_;
    // Lazy or doubled quantifiers are not walked.
    return i_ >= p_.size() || std::string_view("*+?{").find(p_[i_]) == std::string_view::npos;
  }

  bool Number(size_t* j, size_t* out) {
    const size_t begin = *j;
    size_t v = 0;
    while (*j < p_.size() && p_[*j] >= '0' && p_[*j] <= '9' && *j - begin < 4) {
      v = v * 10 + static_cast<size_t>(p_[*j] - '0');
      ++*j;
    }
    // RE2 reads a count with a leading zero as literal text.
    if (*j == begin || v > kMaxCount || (*j - begin > 1 && p_[begin] == '0')) return false;
    *out = v;
    return true;
  }

  bool Group(Sequence* seq, int depth) {
    ++i_;  // '('
    Node node;
    node.kind = Node::Kind::kGroup;
    if (i_ < p_.size() && p_[i_] == '?') {
      if (p_.substr(i_, 2) == "?:") {
        i_ += 2;
      } else if (p_.substr(i_, 3) == "?P<") {
        const size_t close = p_.find('>', i_);
        if (close == std::string_view::npos) return false;
        i_ = close + 1;
        node.capture = ++groups_;
      } else {
        return false;  // flags and other group syntax
      }
    } else {
      node.capture = ++groups_;
    }
    if (groups_ > kMaxGroups) return false;
    if (!Alternatives(&node.alternatives, depth + 1)) return false;
    if (i_ >= p_.size() || p_[i_] != ')') return false;
    ++i_;
    if (i_ < p_.size() && p_[i_] == '?') {
      node.optional = true;
      ++i_;
    }
    if (i_ < p_.size() && std::string_view("*+?{").find(p_[i_]) != std::string_view::npos) {
      return false;
    }
    seq->push_back(std::move(node));
    return true;
  }

  // A class of ASCII members, ranges and Perl classes.
  bool Class(Set* out) {
    ++i_;  // '['
    bool negated = false;
    if (i_ < p_.size() && p_[i_] == '^') {
      negated = true;
      ++i_;
    }
    Set set{};
    bool first = true;
    while (i_ < p_.size() && (p_[i_] != ']' || first)) {
      first = false;
      char lo = 0;
      if (p_[i_] == '[') return false;  // [:name:] and nested-looking text
      if (p_[i_] == '\\') {
        if (i_ + 1 >= p_.size()) return false;
        Set perl{};
        if (PerlClass(p_[i_ + 1], &perl)) {
          set = Union(set, perl);
          i_ += 2;
          continue;
        }
        if (!EscapedChar(p_[i_ + 1], &lo)) return false;
        i_ += 2;
      } else {
        if (!Printable(p_[i_])) return false;
        lo = p_[i_++];
      }
      char hi = lo;
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        if (p_[i_] == '\\') {
          if (i_ + 1 >= p_.size() || !EscapedChar(p_[i_ + 1], &hi)) return false;
          i_ += 2;
        } else {
          if (!Printable(p_[i_]) || p_[i_] == '[') return false;
          hi = p_[i_++];
        }
        if (hi < lo) return false;
      }
      AddRange(set, static_cast<unsigned char>(lo), static_cast<unsigned char>(hi));
    }
    if (i_ >= p_.size()) return false;
    ++i_;  // ']'
    *out = negated ? Complement(set) : set;
    return true;
  }

  std::string_view p_;
  size_t i_ = 0;
  int groups_ = 0;
};

// What follows a finished sequence: the rest of the enclosing one, after closing its group.
struct Cont {
  const Sequence* seq;
  size_t next;
  int close;  // the group closed on the way (0: none)
  const Cont* up;
};

// The characters a match of seq[i...] (then of what `up` continues with) may start with, and
// whether it may be empty up to the pattern's end.
struct First {
  Set set{};
  bool to_end = false;
};

// Of seq[i...] alone: its first characters, and whether it may match empty.
bool LocalFirst(const Sequence& seq, size_t i, Set* set) {
  for (; i < seq.size(); ++i) {
    const Node& n = seq[i];
    if (n.kind == Node::Kind::kLiteral) {
      Add(*set, static_cast<unsigned char>(n.literal[0]));
      return false;
    }
    if (n.kind == Node::Kind::kSet) {
      *set = Union(*set, n.set);
      if (n.min > 0) return false;
      continue;
    }
    bool empty = n.optional;
    for (const Sequence& alt : n.alternatives) empty = LocalFirst(alt, 0, set) || empty;
    if (!empty) return false;
  }
  return true;
}

First FirstOf(const Sequence& seq, size_t i, const Cont* up) {
  First f;
  if (!LocalFirst(seq, i, &f.set)) return f;
  if (up == nullptr) {
    f.to_end = true;
    return f;
  }
  First rest = FirstOf(*up->seq, up->next, up->up);
  rest.set = Union(rest.set, f.set);
  return rest;
}

// Whether every varying run in seq (within `up`) is forced: what may follow it cannot start
// with a character it takes, or may be empty to the end. Counts the paths the walk may try.
bool Forced(const Sequence& seq, const Cont* up, size_t* paths) {
  size_t product = 1;
  for (size_t i = 0; i < seq.size(); ++i) {
    const Node& n = seq[i];
    if (n.kind == Node::Kind::kSet && n.min != n.max) {
      const First next = FirstOf(seq, i + 1, up);
      if (!next.to_end && !Disjoint(next.set, n.set)) return false;
    }
    if (n.kind != Node::Kind::kGroup) continue;
    const Cont inner{&seq, i + 1, n.capture, up};
    size_t sum = n.optional ? 1 : 0;
    for (const Sequence& alt : n.alternatives) {
      size_t alt_paths = 1;
      if (!Forced(alt, &inner, &alt_paths)) return false;
      sum += alt_paths;
      if (sum > DirectCapture::kMaxPaths) return false;
    }
    product *= sum;
    if (product > DirectCapture::kMaxPaths) return false;
  }
  *paths = product;
  return true;
}

struct Walker {
  std::string_view text;
  size_t* caps;  // 2 per group: begin, end (npos: unset)
  size_t ncaps;
  size_t* budget;  // characters still to examine; the walk gives up when they run out
  size_t end = 0;
  bool gave_up = false;

  // Takes `cost` from the budget; false (and gave_up) when it does not hold it.
  bool Spend(size_t cost) {
    if (cost > *budget) {
      gave_up = true;
      return false;
    }
    *budget -= cost;
    return true;
  }

  bool Walk(const Sequence& seq, size_t i, size_t pos, const Cont* up) {
    for (; i < seq.size(); ++i) {
      const Node& n = seq[i];
      if (n.kind == Node::Kind::kLiteral) {
        if (!Spend(n.literal.size())) return false;
        if (text.size() - pos < n.literal.size() ||
            std::memcmp(text.data() + pos, n.literal.data(), n.literal.size()) != 0) {
          return false;
        }
        pos += n.literal.size();
        continue;
      }
      if (n.kind == Node::Kind::kSet) {
        // The run is forced (Forced): as long as it can be, and never shorter.
        const size_t limit = std::min(n.max, text.size() - pos);
        size_t k = 0;
        while (k < limit && n.takes[static_cast<unsigned char>(text[pos + k])]) ++k;
        if (!Spend(k + 1) || k < n.min) return false;
        pos += k;
        continue;
      }
      const Cont inner{&seq, i + 1, n.capture, up};
      if (n.alternatives.size() == 1 && !n.optional) {
        // No other way to try: a failure is the caller's to undo.
        if (n.capture > 0) caps[2 * n.capture] = pos;
        return Walk(n.alternatives[0], 0, pos, &inner);
      }
      size_t saved[2 * (kMaxGroups + 1)];
      std::memcpy(saved, caps, ncaps * sizeof(size_t));
      for (const Sequence& alt : n.alternatives) {
        if (n.capture > 0) caps[2 * n.capture] = pos;
        if (Walk(alt, 0, pos, &inner)) return true;
        if (gave_up) return false;
        std::memcpy(caps, saved, ncaps * sizeof(size_t));
      }
      if (!n.optional) return false;
    }
    if (up == nullptr) {
      end = pos;
      return true;
    }
    if (up->close > 0) caps[2 * up->close + 1] = pos;
    return Walk(*up->seq, up->next, pos, up->up);
  }
};

}  // namespace

std::unique_ptr<DirectCapture> DirectCapture::Compile(std::string_view pattern, int groups) {
  Parser parser(pattern);
  std::unique_ptr<DirectCapture> out(new DirectCapture());
  if (!parser.Parse(&out->root_) || parser.groups() != groups) return nullptr;
  size_t paths = 1;
  if (!Forced(out->root_, nullptr, &paths)) return nullptr;
  FillTables(out->root_);
  out->groups_ = groups;
  return out;
}

DirectCapture::Outcome DirectCapture::MatchAt(std::string_view text, size_t at,
                                              re2::StringPiece* out, int n, size_t* budget) const {
  if (at > text.size()) return Outcome::kNoMatch;
  size_t caps[2 * (kMaxGroups + 1)];
  const size_t ncaps = 2 * (static_cast<size_t>(groups_) + 1);
  std::fill(caps, caps + ncaps, std::string_view::npos);
  Walker walker{text, caps, ncaps, budget};
  if (!walker.Walk(root_, 0, at, nullptr)) {
    return walker.gave_up ? Outcome::kGaveUp : Outcome::kNoMatch;
  }
  caps[0] = at;
  caps[1] = walker.end;
  for (int g = 0; g < n; ++g) {
    const size_t begin = g <= groups_ ? caps[2 * g] : std::string_view::npos;
    const size_t end = g <= groups_ ? caps[2 * g + 1] : std::string_view::npos;
    out[g] = begin == std::string_view::npos || end == std::string_view::npos
                 ? re2::StringPiece()
                 : re2::StringPiece(text.data() + begin, end - begin);
  }
  return Outcome::kMatch;
}

}  // namespace ember::rules
