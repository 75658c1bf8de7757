// Key groups: every (rule, key) belongs to one of a fixed number of partitions, chosen when
// the state store is created and recorded in it (like Flink's key groups or Kafka's
// partitions). A partition's windows, key tables and alert states are owned by one task at a
// time, so partitions are applied at once and may later move between machines. The mapping
// is persisted (the store keeps each partition's records apart): never change it. Pure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "common/hash.h"
#include "rules/rule.h"

namespace ember::engine {

inline constexpr uint32_t kDefaultPartitions = 16;
inline constexpr uint32_t kMaxPartitions = 4096;

// A rule whose keys must be judged together lives whole in one partition: top-K rules (the
// ranking spans every key), and rules whose max_keys is below this many keys per partition
// (their cap is kept exactly). Other rules spread their keys: see PartitionKeyCap.
inline constexpr int64_t kMinKeysPerPartition = 4096;

// The keys one partition of a spread rule may hold: its share of max_keys and a margin of
// eight standard deviations of a uniform spread, so a rule holding max_keys keys is not
// refused one (a chance below 10^-14 per partition), and never holds more than
// max_keys * (1 + 8 / sqrt(share)) + 64 per partition: 3.3 % over at the default 1M and 16.
inline int64_t PartitionKeyCap(int64_t max_keys, uint32_t partitions) {
  const int64_t share = (max_keys + partitions - 1) / partitions;
  int64_t root = 1;
  while (root * root < share) ++root;
  return std::min(max_keys, share + 8 * root + 64);
}

// Whether `rule` lives whole in one partition of `partitions`.
inline bool RuleLivesWhole(const rules::Rule& rule, uint32_t partitions) {
  return partitions == 1 || rule.kind == rules::RuleKind::kTopK ||
         rule.max_keys < kMinKeysPerPartition * static_cast<int64_t>(partitions);
}

// The hash every partition of a rule starts from.
inline uint64_t RuleSeed(std::string_view rule) {
  return Fnv1a64(std::string_view("\0", 1), Fnv1a64(rule));
}

// The hash of `key` of a rule with seed `seed` (RuleSeed).
inline uint64_t KeyHash(uint64_t seed, std::string_view key) { return Fnv1a64(key, seed); }

// The partition of a KeyHash (or, for a rule that lives whole in one partition, of its seed).
// FNV-1a's low bits depend only on the low bits of the bytes: the hash is mixed (MurmurHash3's
// finalizer) before it is reduced.
inline uint32_t PartitionOfHash(uint64_t h, uint32_t partitions) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  // The same remainder without a division (tens of cycles a match) for the usual powers of two.
  if ((partitions & (partitions - 1)) == 0) return static_cast<uint32_t>(h & (partitions - 1));
  return static_cast<uint32_t>(h % partitions);
}

// The partition of `key` of a rule with seed `seed`; `whole_rule`: the rule lives in one
// partition whatever the key.
inline uint32_t PartitionOf(uint64_t seed, std::string_view key, bool whole_rule,
                            uint32_t partitions) {
  return PartitionOfHash(whole_rule ? seed : KeyHash(seed, key), partitions);
}

}  // namespace ember::engine
