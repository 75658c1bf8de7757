#include "rules/pattern_prefix.h"

#include <cctype>

namespace ember::rules {
namespace {

bool IsQuantifier(char c) { return c == '*' || c == '+' || c == '?' || c == '{'; }

// Characters that stand for themselves in RE2 outside a class.
bool IsPlainLiteral(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80 || u < 0x20) return false;
  return std::string_view(".[](){}*+?^$|\\").find(c) == std::string_view::npos;
}

// Whether the pattern has a '|' outside every group and class, or quoting we do not follow.
bool HasTopLevelAlternation(std::string_view p) {
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] == 'Q') return true;  // \Q...\E: not followed here
      ++i;
    } else if (c == '[') {
      i = ClassEnd(p, i);
      if (i == std::string_view::npos) return true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

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

std::string LiteralPrefix(std::string_view p) {
  if (HasTopLevelAlternation(p)) return "";
  std::string prefix;
  size_t i = 0;
  while (i < p.size()) {
    if (IsPlainLiteral(p[i])) {
      prefix.push_back(p[i]);
      ++i;
    } else if (p[i] == '\\' && i + 1 < p.size() && IsPlainLiteral(p[i + 1]) &&
               !std::isalnum(static_cast<unsigned char>(p[i + 1]))) {
      prefix.push_back(p[i + 1]);  // escaped punctuation: \[ \. \- ...
      i += 2;
    } else if (p[i] == '\\' && i + 1 < p.size() &&
               std::string_view(".[](){}*+?^$|\\").find(p[i + 1]) != std::string_view::npos) {
      prefix.push_back(p[i + 1]);  // an escaped metacharacter
      i += 2;
    } else {
      break;
    }
  }
  // A quantifier after the run applies to its last character, which may then be absent.
  if (!prefix.empty() && i < p.size() && IsQuantifier(p[i])) prefix.pop_back();
  return prefix;
}

}  // namespace ember::rules
