#include "rules/rule.h"

namespace ember::rules {

bool Condition::Holds(uint64_t count) const {
  const auto c = static_cast<int64_t>(count);
  switch (op) {
    case CompareOp::kGreaterEqual:
      return c >= threshold;
    case CompareOp::kGreater:
      return c > threshold;
    case CompareOp::kEqual:
      return c == threshold;
    case CompareOp::kLess:
      return c < threshold;
    case CompareOp::kLessEqual:
      return c <= threshold;
    case CompareOp::kNotEqual:
      return c != threshold;
  }
  return false;
}

std::string Condition::ToString() const {
  const char* ops[] = {">=", ">", "==", "<", "<=", "!="};
  return std::string("count ") + ops[static_cast<int>(op)] + " " + std::to_string(threshold);
}

const char* SeverityName(Severity s) {
  static const char* kNames[] = {"debug", "info", "notice", "warning", "error", "critical"};
  return kNames[static_cast<int>(s)];
}

}  // namespace ember::rules
