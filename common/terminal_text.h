// Text from logs on an operator's terminal. Whoever can write a log line can put bytes in a
// key, a message or a sample: escaped here, they cannot move the cursor, change colours,
// retitle the window, ring the bell or reorder what the operator reads. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ember {

// `text` with every C0 control, DEL and C1 control shown as `\xNN` (tab as `\t`), the
// bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9) as `\uNNNN`, and bytes that
// are not UTF-8 as `\xNN`. Printable UTF-8 (accents, CJK, emoji) is kept as it is. JSON
// outputs do not use this: they stay exact.
std::string EscapeForTerminal(std::string_view text);

// The columns `text` takes on a terminal: wide characters (CJK, emoji) 2, combining marks 0,
// others 1 (wcwidth in the C.UTF-8 locale, for this thread only). Meant for escaped text.
size_t DisplayWidth(std::string_view text);

// The longest prefix of `text` that fits `columns`, never splitting a character.
std::string_view FitColumns(std::string_view text, size_t columns);

}  // namespace ember
