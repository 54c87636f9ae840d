#pragma once
// The leaderboard's HTML pages, from the data site_data.h reads. Pages carry no CSS or JS of
// their own: they link the site's assets/ (site_assets.h), and a task page's samples come from
// its data/ files (site_data.h), so every page stays small however many samples a task has.
#include <string>

#include "site_data.h"

namespace keval::site {

// index.html: the ranked leaderboard of full runs, the runs evaluated on a subset apart and
// unranked, a chart per group, every task and group, every run's configuration fingerprint.
std::string index_page(const Model& model);
// runs/<run>.html: a run's configuration and task versions.
std::string run_page(const Model& model, const RunView& run);
// tasks/<task>.html: each run's metrics, and the sample browser over data/<task>/ (`samples`
// is how many samples its data files hold).
std::string task_page(const Model& model, const Entry& task, size_t samples);

// Where a task's or run's page and a task's data files are, relative to the site's root.
std::string task_page_path(const std::string& task);
std::string run_page_path(const RunRecord& run);
std::string task_data_dir(const std::string& task);

// The runs that ran `task`, in the model's order.
std::vector<const RunView*> runs_of(const Model& model, const std::string& task);

} // namespace keval::site
