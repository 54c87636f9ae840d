#pragma once
// `keval report`: a static, self-contained leaderboard site from a database. No file it writes
// loads anything from the network: CSS, JS and SVG are inline.
//
//   DIR/index.html          leaderboard of runs × top-level groups and tasks (sortable, with
//                           95% intervals and ranks), a table of every task and group, a bar
//                           chart per group, every run's configuration fingerprint
//   DIR/tasks/<task>.html   per task: each run's metrics, and a sample browser (prompt, each
//                           run's answer, extracted answer and score; the samples where two
//                           chosen runs score differently)
//   DIR/runs/<run>.html     a run's full configuration and task versions
//
// Ranks: in the sorted score column, a run's rank is 1 + the number of runs whose 95% interval
// lies entirely above its own (below, for a metric where lower is better). Runs whose intervals
// overlap are not told apart, so they can share a rank; this is conservative (two intervals can
// overlap while a paired test would still separate the runs: `keval compare` does that test).
//
// Escaping: every text from a model, a dataset or a user (names, models, prompts, answers) is
// HTML-escaped in markup, and JSON inside <script> has < > & U+2028 U+2029 as \uXXXX; the
// pages' scripts put data into the page with textContent only.
#include <cstdint>
#include <string>

#include "store.h"

namespace keval {

struct SiteSummary {
  size_t runs = 0;
  size_t task_pages = 0;
  uintmax_t bytes = 0;        // total size of the files written
  uintmax_t index_bytes = 0;
};

// Writes the site into `out_dir` (created when missing; files keval writes are replaced).
SiteSummary write_site(Store& store, const std::string& out_dir);

} // namespace keval
