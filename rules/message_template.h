// MessageTemplate: an alert message with {{field}} placeholders, parsed once when the rule
// loads. Immutable after construction; safe to share between threads.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ember::rules {

class MessageTemplate {
 public:
  MessageTemplate() = default;
  // InvalidArgument for an unclosed "{{" or an empty field name; the message gives the
  // column (1-based) within `text`.
  static Result<MessageTemplate> Parse(std::string_view text);

  // Field names the template uses, in order of first use.
  std::vector<std::string> Fields() const;
  // Renders the template; `lookup(name)` returns a field's value.
  std::string Render(const std::function<std::string(std::string_view)>& lookup) const;
  const std::string& text() const { return text_; }

 private:
  struct Part {
    bool is_field;
    std::string text;  // literal text or field name
  };
  std::string text_;
  std::vector<Part> parts_;
};

}  // namespace ember::rules
