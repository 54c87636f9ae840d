#pragma once
// The leaderboard's data, read through the store: every run with its results and how much of
// each task it covered, the entries (groups and tasks) the pages show, and the sample browser's
// data files. Nothing here writes HTML (site_pages.h does) or files (site.h does).
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store.h"

namespace keval::site {

// How much of one task one run evaluated.
struct Coverage {
  long long samples = 0;  // the samples the run set out to evaluate (after --limit)
  long long failed = 0;   // failed requests, and samples the judge gave no verdict for
  long long missing = 0;  // neither scored nor failed (a run stopped early)
};

struct RunView {
  RunRecord run;
  std::map<std::string, std::map<std::string, TaskResult>> results;  // entry -> metric -> result
  std::set<std::string> tasks;                                         // tasks it ran
  std::map<std::string, Coverage> coverage;                            // task -> coverage
  std::map<std::string, std::string> task_hashes;                      // task -> content hash it ran
  // Why the run covers only a subset of its tasks ("--limit 20", "3 samples failed", …); empty
  // for a full run. A run with a reason is not ranked with full runs.
  std::vector<std::string> partial_reasons;
  bool whole_run_partial = false;  // --limit, a shard, or a run that did not finish: every task
  RunUsage usage;                  // requests, tokens, latency, cached answers (from its stored responses)
  Prices prices;                   // what the run recorded (--price-in, --price-out)

  bool partial() const { return !partial_reasons.empty(); }
};

struct Entry {
  std::string name;
  bool is_group = false;
  std::string aggregation;
  std::vector<std::string> metrics;  // first appearance order
  std::vector<std::string> members;  // groups
};

struct Model {
  std::vector<RunView> runs;               // newest first
  std::vector<Entry> entries;              // groups first, then tasks
  std::map<std::string, size_t> entry_at;  // name -> index in entries
  std::set<std::string> grouped;           // names that are some group's member
  // Per task, the content hash (task file and data) most runs evaluated, full runs first: a run
  // of other content is not compared with them.
  std::map<std::string, std::string> usual_hash;

  // True when `run`'s value of `entry` rests on a subset of its samples (or, for a group, of
  // its members' samples, or of its members).
  bool partial(const RunView& run, const std::string& entry) const;
  // False when `run` evaluated `entry` (for a group: one of its members) with other content than
  // the usual one: its value is not comparable with the others', and not ranked.
  bool comparable(const RunView& run, const std::string& entry) const;
};

Model build_model(Store& store);

// The sample browser's data of one task, as script files that register themselves (a page
// opened from disk cannot fetch() a file, but it can load a script):
//   index.js  kevalSamples.index({task, metric, chunk_size, runs: [{id, name}], ids: [...],
//                                 values: per run, per sample ["s"|"u"|"f", headline value] or null})
//   <k>.js    kevalSamples.chunk(k, {task, samples: [{id, gold, requests}],
//                                    answers: per run, per sample [status, extracted, answer, values] or null})
// where chunk k holds samples [k * chunk_size, (k + 1) * chunk_size). Samples are in the order
// the first run stored them (the dataset's order), then any other run's extra samples. Every
// string is JSON with < > & U+2028 U+2029 as \uXXXX, so a file is inert wherever it is put.
// `write(name, content)` receives each file ("index.js", "0.js", …); returns the number of samples.
size_t write_sample_files(StoreReader& reader, const std::string& task, const std::string& metric,
                          const std::vector<const RunView*>& runs, size_t chunk_size,
                          const std::function<void(const std::string& name, const std::string& content)>& write);

} // namespace keval::site
