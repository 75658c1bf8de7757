#include "rules/rule.h"

#include <cstdio>

namespace ember::rules {
namespace {

bool Compare(double v, CompareOp op, double threshold) {
  switch (op) {
    case CompareOp::kGreaterEqual:
      return v >= threshold;
    case CompareOp::kGreater:
      return v > threshold;
    case CompareOp::kEqual:
      return v == threshold;
    case CompareOp::kLess:
      return v < threshold;
    case CompareOp::kLessEqual:
      return v <= threshold;
    case CompareOp::kNotEqual:
      return v != threshold;
  }
  return false;
}

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

const char* AggregateName(Aggregate a) {
  static const char* kNames[] = {"count", "rate",     "sum",   "min",  "max",
                                 "avg",   "distinct", "ratio", "total"};
  return kNames[static_cast<int>(a)];
}

double WindowValues::Get(Aggregate a) const {
  switch (a) {
    case Aggregate::kCount:
      return static_cast<double>(count);
    case Aggregate::kRate:
      return static_cast<double>(count) / window_seconds;
    case Aggregate::kSum:
      return sum;
    case Aggregate::kMin:
      return min;
    case Aggregate::kMax:
      return max;
    case Aggregate::kAvg:
      return numeric == 0 ? 0 : sum / static_cast<double>(numeric);
    case Aggregate::kDistinct:
      return static_cast<double>(distinct);
    case Aggregate::kRatio:
      return total == 0 ? 0 : static_cast<double>(count) / static_cast<double>(total);
    case Aggregate::kTotal:
      return static_cast<double>(total);
  }
  return 0;
}

bool Comparison::Holds(const WindowValues& v) const {
  // Numeric aggregates over no number at all are undefined: nothing compares true.
  const bool numeric = aggregate == Aggregate::kSum || aggregate == Aggregate::kMin ||
                       aggregate == Aggregate::kMax || aggregate == Aggregate::kAvg;
  if (numeric && v.numeric == 0) return false;
  if (aggregate == Aggregate::kRatio && v.total == 0) return false;
  return Compare(v.Get(aggregate), op, threshold);
}

bool Condition::Holds(const WindowValues& v) const {
  if (all.empty()) return false;
  for (const auto& c : all) {
    if (!c.Holds(v)) return false;
  }
  return true;
}

bool Condition::Holds(uint64_t count) const {
  WindowValues v;
  v.count = count;
  return Holds(v);
}

bool Condition::Uses(Aggregate a) const {
  for (const auto& c : all) {
    if (c.aggregate == a) return true;
  }
  return false;
}

std::string Condition::ToString() const {
  const char* ops[] = {">=", ">", "==", "<", "<=", "!="};
  std::string out;
  for (const auto& c : all) {
    if (!out.empty()) out += " and ";
    out += std::string(AggregateName(c.aggregate)) + " " + ops[static_cast<int>(c.op)] + " " +
           FormatNumber(c.threshold);
  }
  return out;
}

bool Rule::NeedsRescan() const {
  for (const Condition* c : {&when, &resolve_when}) {
    if (c->Uses(Aggregate::kMin) || c->Uses(Aggregate::kMax) || c->Uses(Aggregate::kDistinct)) {
      return true;
    }
  }
  for (const auto& f : message.Fields()) {
    if (f == "min" || f == "max" || f == "distinct") return true;
  }
  return false;
}

const char* SeverityName(Severity s) {
  static const char* kNames[] = {"debug", "info", "notice", "warning", "error", "critical"};
  return kNames[static_cast<int>(s)];
}

}  // namespace ember::rules
