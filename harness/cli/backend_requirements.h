#pragma once
// The options a backend kind cannot do without, checked together so that one message names
// every missing option (the backends check them again, one at a time, as a last guard).
#include <string>
#include <vector>

#include "backend.h"

namespace keval::cli {

// "--base-url (the server's URL, e.g. http://127.0.0.1:8000/v1)" for each missing option;
// `prefix` is "--" for the model's backend and "--judge-" for the judge's.
std::vector<std::string> missing_backend_options(const BackendOptions& options, const std::string& prefix);

} // namespace keval::cli
