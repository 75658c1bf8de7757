#include "rules/literal_prefilter.h"

#include <cstring>

#include <re2/filtered_re2.h>
#include <re2/re2.h>

namespace ember::rules {

LiteralPrefilter::LiteralPrefilter() : filter_(std::make_unique<re2::FilteredRE2>(3)) {}
LiteralPrefilter::~LiteralPrefilter() = default;

std::unique_ptr<LiteralPrefilter> LiteralPrefilter::Build(
    const std::vector<std::string>& patterns) {
  if (patterns.empty()) return nullptr;
  std::unique_ptr<LiteralPrefilter> p(new LiteralPrefilter());
  RE2::Options options;
  options.set_log_errors(false);
  for (const auto& pattern : patterns) {
    int id = 0;
    if (p->filter_->Add(pattern, options, &id) != RE2::NoError) return nullptr;
  }
  p->filter_->Compile(&p->atoms_);
  if (p->atoms_.empty() || p->atoms_.size() > kMaxAtoms) return nullptr;
  for (const auto& atom : p->atoms_) {
    for (unsigned char c : atom) {
      if (c >= 0x80) return nullptr;
    }
  }
  // A pattern that passes with no literal found would make every line a candidate.
  std::vector<int> always;
  p->filter_->AllPotentials({}, &always);
  if (!always.empty()) return nullptr;
  return p;
}

bool LiteralPrefilter::HasRequiredLiteral(const std::string& pattern) {
  re2::FilteredRE2 filter(3);
  RE2::Options options;
  options.set_log_errors(false);
  int id = 0;
  if (filter.Add(pattern, options, &id) != RE2::NoError) return false;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> always;
  filter.AllPotentials({}, &always);
  return !atoms.empty() && always.empty();
}

bool LiteralPrefilter::MayMatch(std::string_view line, Scratch& s) const {
  s.lowered.resize(line.size());
  unsigned char high = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    high |= c;
    s.lowered[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  // Non-ASCII text may match a case-folded literal through Unicode folding (the Kelvin sign
  // folds to 'k', the long s to 's'), which byte-wise lowercasing cannot see: let RE2 decide.
  if (high >= 0x80) return true;
  s.atoms.clear();
  for (size_t i = 0; i < atoms_.size(); ++i) {
    if (::memmem(s.lowered.data(), s.lowered.size(), atoms_[i].data(), atoms_[i].size()) !=
        nullptr) {
      s.atoms.push_back(static_cast<int>(i));
    }
  }
  if (s.atoms.empty()) return false;
  filter_->AllPotentials(s.atoms, &s.potentials);
  return !s.potentials.empty();
}

}  // namespace ember::rules
