#pragma once
// The aggregate stage: a run's task and group results, computed from its stored scores and its
// configuration alone (so `keval results` can recompute them from the database). Each metric's
// estimator is the one its scorer or judge protocol declares (scorers/metrics.h); groups combine
// their members as independent samples (harness/statistics/estimators.h).
#include <vector>

#include "store.h"

namespace keval {

// Task and group results of a run, computed from its stored scores and its configuration.
std::vector<TaskResult> compute_results(Store& store, const RunRecord& run);

} // namespace keval
