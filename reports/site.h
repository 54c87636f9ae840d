#pragma once
// `keval report`: a static leaderboard site from a database. No file it writes loads anything
// from the network, and the site works opened from disk (file://): every link is relative.
//
//   DIR/index.html            leaderboard of the runs evaluated on every sample × top-level groups
//                             and tasks (sortable, with 95% intervals and ranks); runs on a subset
//                             (--limit, a shard, failed or missing samples, unfinished) apart,
//                             marked and unranked; a chart per group, a table of every task and
//                             group, every run's configuration fingerprint
//   DIR/tasks/<task>.html     per task: each run's metrics, and a sample browser (prompt, each
//                             run's answer, extracted answer and score; the samples where two
//                             chosen runs score differently), 25 samples a page
//   DIR/runs/<run>.html       a run's full configuration, task versions and coverage
//   DIR/data/<task>/*.js      the sample browser's data, read as the pages need them (site_data.h)
//   DIR/assets/               the stylesheet and scripts (reports/assets/, embedded at build time)
//
// Ranks: in the sorted score column, a run's rank is 1 + the number of runs whose 95% interval
// lies entirely above its own (below, for a metric where lower is better). Runs whose intervals
// overlap are not told apart, so they can share a rank; this is conservative (two intervals can
// overlap while a paired test would still separate the runs: `keval compare` does that test).
// Only runs evaluated on every sample of their tasks are ranked.
//
// Escaping: every text from a model, a dataset or a user (names, models, prompts, answers) is
// HTML-escaped in markup; in the data files every JSON string has < > & U+2028 U+2029 as
// \uXXXX; the pages' scripts put data into the page with textContent only.
//
// Every file is written to a temporary name beside it and renamed into place, so a report that
// is killed leaves each page either as it was or complete, never truncated.
#include <cstdint>
#include <string>

#include "store.h"

namespace keval {

struct SiteSummary {
  size_t runs = 0;
  size_t task_pages = 0;
  uintmax_t bytes = 0;        // total size of the files written
  uintmax_t html_bytes = 0;   // of them, the pages
  uintmax_t data_bytes = 0;   // of them, the sample data files
  uintmax_t index_bytes = 0;
};

// Writes the site into `out_dir` (created when missing; files keval writes are replaced).
SiteSummary write_site(Store& store, const std::string& out_dir);

} // namespace keval
