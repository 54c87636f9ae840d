#pragma once
// The dispatch stage: one continuous stream of requests over a whole run. Samples are built
// lazily, task after task and a chunk at a time; each goes cache -> backend -> a sink that
// stores (through the CommitPacer), and is scored the moment its last answer or verdict arrives,
// then freed. A free slot is refilled at once while any work remains: no barrier between tasks,
// chunks or turns. A dialogue sample's next turn is asked when its previous one is answered, and
// its turns are put to the judge (a stream of its own, driven by the same loop) when its last
// one is. What a killed run stored is never asked again on resume: stored answers and ratings
// are taken from the database as each task's samples are built.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "answer_text.h"
#include "backend.h"
#include "judge.h"
#include "progress.h"
#include "registry.h"
#include "scorer.h"
#include "shard.h"
#include "status.h"
#include "store.h"

namespace keval {

// One task of a run as dispatch asks and scores it.
struct DispatchTask {
  const TaskConfig* config = nullptr;
  AskMode mode = AskMode::generate;
  std::unique_ptr<Scorer> scorer;
  std::unique_ptr<JudgeProtocol> judge;  // null: not judged in this run
};

struct DispatchOptions {
  std::string run_id;
  bool resuming = false;                 // take stored answers and verdicts from the database
  bool use_cache = true;                 // answer identical requests from the response cache
  ThinkPolicy think = ThinkPolicy::strip;
  std::optional<int> num_fewshot;
  std::optional<size_t> limit;
  std::int64_t fewshot_seed = k_default_fewshot_seed;
  size_t chunk_size = 2048;              // samples built together
  std::optional<ShardSpec> shard;        // only this shard's samples
  std::optional<long long> max_failures; // failed model requests allowed; past it: RunAborted
};

// A backend as the stream uses it.
struct DispatchEndpoint {
  Backend* backend = nullptr;
  BackendOptions identity;  // keys its cached answers (kind, model and reported identity)
  size_t concurrency = 16;  // requests in flight
};

struct DispatchCounts {
  long long n_failed = 0;         // samples without a usable response
  long long n_judge_failed = 0;   // samples with a turn the judge gave no readable verdict for
};

// Thrown when failed model requests pass --max-failures: what was answered stays stored.
struct RunAborted {
  long long failed = 0;           // failed model requests
  Response last;                  // the last of them
};

// Asks, stores and scores every sample of `tasks` (in order) in one stream.
DispatchCounts dispatch_run(TaskRegistry& registry, Store& store, CommitPacer& writes, Progress& progress,
                            std::vector<DispatchTask>& tasks, const DispatchOptions& options,
                            const DispatchEndpoint& model, const std::optional<DispatchEndpoint>& judge);

// The request for one turn of a sample (dialogue: the earlier turns' answers, as the model wrote
// them, in the conversation).
Request build_request(const TaskConfig& task, AskMode mode, const Sample& sample, int turn,
                      const std::vector<std::optional<Response>>& answers);

} // namespace keval
