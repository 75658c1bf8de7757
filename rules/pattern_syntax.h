// Reading RE2 pattern text, for the rewrites the matcher makes without changing what matches:
// one tokenizer (escapes, classes, groups, alternation, quantifiers) serves the literal
// prefix of captures, the check of what Hyperscan may screen, and the screen's cut pattern.
// Each function proves its answer from the text alone and gives up ("" / false / unchanged)
// on anything it does not follow (\Q quoting, unknown group syntax). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ember::rules {

// The literal text every match of an RE2 pattern begins with: its leading run of plain ASCII
// characters and escaped punctuation, when nothing at its top level is an alternation; a
// run followed by a quantifier loses its last character. Used to run a capturing match
// anchored at each place the prefix occurs instead of an unanchored search: RE2's leftmost
// match starts at one of them, so the first anchored match found is the same match with the
// same groups. "" when no prefix can be proven (a leading class, group, anchor, flag or \d).
std::string LiteralPrefix(std::string_view pattern);

// The longest run of literal text every match of an RE2 pattern holds: plain ASCII characters
// and escaped punctuation one after the other at its top level (outside groups; a character a
// quantifier follows does not count), when nothing at its top level is an alternation. A
// screen may search for it instead of the pattern, and confirm what it finds. *caseless: a
// flag group sets i somewhere, so the run is to be found in any case. "" when there is none.
std::string RequiredLiteral(std::string_view pattern, bool* caseless);

// Whether `pattern` is one Hyperscan's prefilter mode reads as RE2 does on ASCII text (a
// syntax check only: the screen also needs Hyperscan to compile it).
bool ScreenableSyntax(std::string_view pattern);

// The pattern as the screen compiles it: a line holds a match of it exactly when it holds a
// match of `pattern`, with repetition at the very end cut to what a match needs at least
// (`from [0-9.]+` -> `from [0-9.]`, `ERROR: .*` -> `ERROR: `), so Hyperscan reports one end
// per match instead of one per repeated character. Unchanged when unsure.
std::string ScreenPattern(std::string_view pattern);

// The pattern as Hyperscan may run it exactly, with no RE2 confirmation, over lines joined
// by '\n': on any line without '\n' it matches where `pattern` matches for RE2, and none of
// its matches reaches across a '\n'. What could match '\n' is written out without it (\s as
// [\t\f\r ], \S, \W, \D and negated classes with '\n' added to what they exclude), which also
// pins those classes to RE2's reading (Hyperscan's \s holds \v, RE2's does not). "" when
// unsure: flags other than i, escapes or class members the two may read differently (\v, \x,
// octal, [:space:], [:^alpha:], control characters), or anything ScreenableSyntax refuses.
std::string LineBoundPattern(std::string_view pattern);

}  // namespace ember::rules
