#pragma once
// A run split over a cluster: shard I of N evaluates the samples whose key hashes to I, so every
// task spreads evenly over the shards and any machine computes the same split.
#include <cstddef>
#include <optional>
#include <string>

namespace keval {

struct ShardSpec {
  size_t index = 0;  // 0-based
  size_t count = 1;
  bool operator==(const ShardSpec&) const = default;
};

// "I/N", or "auto": the scheduler's variables. Slurm array jobs: shard SLURM_ARRAY_TASK_ID of
// `shard_count` (or, without it, SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN of
// SLURM_ARRAY_TASK_COUNT); Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX of `shard_count`.
// Throws InputError naming what is missing or wrong.
ShardSpec parse_shard(const std::string& spec, std::optional<size_t> shard_count);

// Whether the sample (task, id) belongs to the shard: SHA-256 of "task/id" modulo the count.
bool in_shard(const ShardSpec& shard, const std::string& task, const std::string& sample_id);

} // namespace keval
