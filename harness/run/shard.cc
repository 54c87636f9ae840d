#include "shard.h"

#include <cstdlib>

#include <fmt/format.h>

#include "error.h"
#include "sha256.h"

namespace keval {
namespace {

// A non-negative decimal integer, all of `text`; nullopt otherwise.
std::optional<size_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return value;
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  return std::string(value);
}

size_t env_count(const char* name, const std::string& value) {
  auto n = parse_count(value);
  if (!n) throw InputError(fmt::format("--shard auto: {}='{}' is not a non-negative integer", name, value));
  return *n;
}

ShardSpec checked(ShardSpec shard, const std::string& what) {
  if (shard.count == 0) throw InputError(fmt::format("{}: the shard count must be at least 1", what));
  if (shard.index >= shard.count)
    throw InputError(fmt::format("{}: shard index {} is not below the count {} (shards are numbered from 0)", what,
                                 shard.index, shard.count));
  return shard;
}

} // namespace

ShardSpec parse_shard(const std::string& spec, std::optional<size_t> shard_count) {
  if (spec == "auto") {
    if (auto id = env("SLURM_ARRAY_TASK_ID")) {
      const size_t index = env_count("SLURM_ARRAY_TASK_ID", *id);
      // With the count given, the array index is the shard: one element re-submitted alone
      // (`sbatch --array=2`) is still shard 2 of N.
      if (shard_count) return checked({index, *shard_count}, "--shard auto (Slurm)");
      auto count = env("SLURM_ARRAY_TASK_COUNT");
      if (!count) throw InputError("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
      // Without it the array must be the whole run: shard = offset from its first index.
      size_t first = 0;
      if (auto min = env("SLURM_ARRAY_TASK_MIN")) first = env_count("SLURM_ARRAY_TASK_MIN", *min);
      if (index < first)
        throw InputError(fmt::format("--shard auto: SLURM_ARRAY_TASK_ID {} is below SLURM_ARRAY_TASK_MIN {}", index, first));
      return checked({index - first, env_count("SLURM_ARRAY_TASK_COUNT", *count)}, "--shard auto (Slurm)");
    }
    if (auto index = env("JOB_COMPLETION_INDEX")) {
      if (!shard_count)
        throw InputError("--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job); give the Job's "
                         "completions as --shard-count");
      return checked({env_count("JOB_COMPLETION_INDEX", *index), *shard_count}, "--shard auto (Kubernetes)");
    }
    throw InputError("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor JOB_COMPLETION_INDEX (a "
                     "Kubernetes Indexed Job) is set; give the shard as --shard I/N");
  }
  const size_t slash = spec.find('/');
  auto index = slash == std::string::npos ? std::nullopt : parse_count(spec.substr(0, slash));
  auto count = slash == std::string::npos ? std::nullopt : parse_count(spec.substr(slash + 1));
  if (!index || !count) throw InputError(fmt::format("--shard '{}' is not I/N (e.g. 0/4) or auto", spec));
  if (shard_count && *shard_count != *count)
    throw InputError(fmt::format("--shard {} and --shard-count {} disagree", spec, *shard_count));
  return checked({*index, *count}, fmt::format("--shard {}", spec));
}

bool in_shard(const ShardSpec& shard, const std::string& task, const std::string& sample_id) {
  if (shard.count <= 1) return true;
  const std::string digest = sha256_hex(task + "/" + sample_id);
  const unsigned long long prefix = std::stoull(digest.substr(0, 15), nullptr, 16);
  return prefix % shard.count == shard.index;
}

} // namespace keval
