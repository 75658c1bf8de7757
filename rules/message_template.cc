#include "rules/message_template.h"

#include <algorithm>

namespace ember::rules {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

Result<MessageTemplate> MessageTemplate::Parse(std::string_view text) {
  MessageTemplate t;
  t.text_ = std::string(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts_.push_back({false, std::string(text.substr(pos))});
      break;
    }
    if (open > pos) t.parts_.push_back({false, std::string(text.substr(pos, open - pos))});
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("column " + std::to_string(open + 1) +
                                     ": '{{' is never closed with '}}'");
    }
    std::string_view name = Trim(text.substr(open + 2, close - open - 2));
    if (name.empty()) {
      return Status::InvalidArgument("column " + std::to_string(open + 1) +
                                     ": empty field name in '{{}}'");
    }
    t.parts_.push_back({true, std::string(name)});
    pos = close + 2;
  }
  return t;
}

std::vector<std::string> MessageTemplate::Fields() const {
  std::vector<std::string> out;
  for (const auto& p : parts_) {
    if (p.is_field && std::find(out.begin(), out.end(), p.text) == out.end()) {
      out.push_back(p.text);
    }
  }
  return out;
}

std::string MessageTemplate::Render(
    const std::function<std::string(std::string_view)>& lookup) const {
  std::string out;
  for (const auto& p : parts_) out += p.is_field ? lookup(p.text) : p.text;
  return out;
}

}  // namespace ember::rules
