#include "common/terminal_text.h"

#include <catch2/catch.hpp>

using namespace ember;

TEST_CASE("EscapeForTerminal: controls, bidi overrides and bad UTF-8 become visible escapes",
          "[common][terminal][unit]") {
  // ESC (a colour and a window title), BEL, CR, DEL, a C1 CSI, RIGHT-TO-LEFT OVERRIDE.
  const std::string evil =
      "a\x1b[31mred\x1b]0;pwned\x07|\rb\x7f\xc2\x9b|\xe2\x80\xae"
      "cba";
  const std::string shown = EscapeForTerminal(evil);
  CHECK(shown == "a\\x1b[31mred\\x1b]0;pwned\\x07|\\x0db\\x7f\\u009b|\\u202ecba");
  for (unsigned char c : shown) CHECK((c >= 0x20 && c != 0x7f));
  // Printable UTF-8 is kept; a tab is shown; invalid and overlong sequences are bytes.
  CHECK(EscapeForTerminal("café 東京 🔥") == "café 東京 🔥");
  CHECK(EscapeForTerminal("a\tb") == "a\\tb");
  CHECK(EscapeForTerminal("\xff\xc0\xaf") == "\\xff\\xc0\\xaf");
  CHECK(EscapeForTerminal(std::string("nul\0x", 5)) == "nul\\x00x");
  // Escaping twice changes nothing more.
  CHECK(EscapeForTerminal(shown) == shown);
}

TEST_CASE("DisplayWidth and FitColumns count terminal columns", "[common][terminal][unit]") {
  CHECK(DisplayWidth("abc") == 3);
  CHECK(DisplayWidth("東京") == 4);         // wide
  CHECK(DisplayWidth("e\xcc\x81") == 1);    // e + combining acute accent
  CHECK(FitColumns("東京abc", 3) == "東");  // never half a wide character
  CHECK(FitColumns("東京abc", 5) == "東京a");
  CHECK(FitColumns("abc", 10) == "abc");
}
