// LiteralPrefix: the literal text every match of an RE2 pattern begins with, found from the
// pattern's text alone and only where that is simple to prove (a leading run of plain ASCII
// characters and escaped punctuation, no alternation at the top level). Used to run a
// capturing match anchored at each place the prefix occurs instead of an unanchored search:
// RE2's leftmost match starts at one of them, so the first anchored match found is the same
// match with the same groups. Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ember::rules {

// "" when no prefix can be proven (a leading class, group, anchor, flag or escape like \d).
std::string LiteralPrefix(std::string_view pattern);

// Where the character class opening at pattern[open] ('[') ends: the index of its closing
// ']' (the first that is not its first member, outside [:name:] and escapes), or npos.
size_t ClassEnd(std::string_view pattern, size_t open);

}  // namespace ember::rules
