#pragma once
// The options that choose and reach a backend, declared once for the model (--X) and for the
// judge (--judge-X), bound to a BackendConfig whose defaults they show. The backend kinds and
// their one-line help come from the backend registry.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend.h"

namespace keval::cli {

enum class BackendRole { model, judge };

// "--" for the model, "--judge-" for the judge.
std::string flag_prefix(BackendRole role);

// Declares the role's --backend, --model, --model-id, --base-url, --responses, --cmd and
// --header, bound to `config`; returns them in that order.
std::vector<CLI::Option*> add_backend_flags(CLI::App& app, BackendConfig& config, BackendRole role);

// The model's own sampling settings: --seed (the random backend's), --max-tokens, --temperature.
// They have no judge twin: a judge protocol fixes its own (FastChat's temperature 0, its token
// budget), and the random backend cannot judge.
void add_model_overrides(CLI::App& app, BackendConfig& config);

// --concurrency, --timeout, --max-retries, --rps and --max-response-bytes, bound to `config`
// (`keval run`: the model's, which its judge shares but for --rps; `keval pairwise`: the judge's).
void add_execution_flags(CLI::App& app, BackendConfig& config, BackendRole role);

// The kinds the role may use, in registration order ("random, replay, …"; a judge's exclude the
// kinds that cannot judge), joined by `separator`.
std::string backend_kind_list(BackendRole role, const std::string& separator);

// Each kind with its one-line help, for a command's help footer.
std::string backend_kinds_help(BackendRole role);

// The options among `options` that were given on the command line, as "--name".
std::vector<std::string> given(const std::vector<CLI::Option*>& options);

} // namespace keval::cli
