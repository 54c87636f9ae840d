#pragma once
// `keval merge`: shard databases of one run (`keval run --shard I/N`) imported into one run,
// whose results equal the same run made on one machine: sample identities and every answer are
// content-derived, so the union of the shards' rows is the unsharded run's.
#include <map>
#include <string>
#include <vector>

#include "registry.h"
#include "store.h"

namespace keval {

struct MergeReport {
  RunRecord run;                               // the merged run, as stored
  size_t shard_count = 0;
  std::vector<size_t> imported;                // shard indices imported by this call
  std::vector<size_t> unchanged;               // given again, identical: nothing to do
  std::vector<size_t> missing;                 // not merged yet
  std::map<std::string, long long> missing_samples;  // task -> samples without a stored score
  std::vector<TaskResult> results;
};

// Imports the shard runs found in `shard_paths` into `out`. Throws InputError (naming the files
// and what differs) when the shards are not of one run; nothing is written then.
MergeReport merge_shards(Store& out, const std::vector<std::string>& shard_paths);

} // namespace keval
