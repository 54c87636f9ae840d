#include "scorer.h"

#include <charconv>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "builtin_scorers.h"
#include "metric.h"
#include "normalize.h"
#include "error.h"
#include "text.h"

namespace keval {

namespace {

std::string did_you_mean(const std::string& name, const std::vector<std::string>& allowed) {
  std::string out;
  const auto near = text::closest(name, allowed);
  if (!near.empty()) out += fmt::format("; did you mean '{}'?", text::join(near, "' or '"));
  out += fmt::format(" (known: {})", allowed.empty() ? std::string("none") : text::join(allowed, ", "));
  return out;
}

const ScorerDefinition& find_scorer(const std::string& name) {
  for (const ScorerDefinition* e : scorer_definitions())
    if (e->name == name) return *e;
  throw InputError(fmt::format("unknown scorer '{}'{}", name, did_you_mean(name, scorer_names())));
}

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

std::optional<double> optional_number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw InputError(fmt::format("sample score: '{}' must be a number or null", key));
  return it->get<double>();
}

} // namespace

nlohmann::json SampleScore::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["values"] = nlohmann::json::object();
  for (const auto& [k, v] : values) j["values"][k] = v;
  j["predicted"] = predicted;
  j["predicted_number"] = predicted_number ? nlohmann::json(*predicted_number) : nlohmann::json(nullptr);
  j["extracted"] = extracted;
  j["unparsed"] = unparsed;
  j["gold"] = gold;
  j["gold_number"] = gold_number ? nlohmann::json(*gold_number) : nlohmann::json(nullptr);
  j["meta"] = meta.is_null() ? nlohmann::json::object() : meta;
  return j;
}

SampleScore SampleScore::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InputError("sample score: expected a JSON object");
  SampleScore s;
  try {
    if (const auto it = j.find("values"); it != j.end() && !it->is_null()) {
      if (!it->is_object()) throw InputError("sample score: 'values' must be an object");
      for (const auto& [k, v] : it->items()) {
        if (!v.is_number()) throw InputError(fmt::format("sample score: value '{}' must be a number", k));
        s.values[k] = v.get<double>();
      }
    }
    s.predicted = get_or<int>(j, "predicted", -1);
    s.predicted_number = optional_number(j, "predicted_number");
    s.extracted = get_or<std::string>(j, "extracted", "");
    s.unparsed = get_or<bool>(j, "unparsed", false);
    s.gold = get_or<int>(j, "gold", -1);
    s.gold_number = optional_number(j, "gold_number");
    if (const auto it = j.find("meta"); it != j.end() && !it->is_null()) {
      if (!it->is_object()) throw InputError("sample score: 'meta' must be an object");
      s.meta = *it;
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("sample score: {}", e.what()));
  }
  return s;
}

std::unique_ptr<Scorer> make_scorer(const std::string& name, const nlohmann::json& options) {
  const ScorerDefinition& entry = find_scorer(name);
  if (!options.is_null() && !options.is_object())
    throw InputError(fmt::format("scorer '{}': scorer_options must be a map", name));
  const nlohmann::json opts = options.is_null() ? nlohmann::json::object() : options;
  for (const auto& [key, value] : opts.items()) {
    (void)value;
    if (std::find(entry.options.begin(), entry.options.end(), key) == entry.options.end())
      throw InputError(fmt::format("scorer '{}': unknown option '{}'{}", name, key, did_you_mean(key, entry.options)));
  }
  return entry.make(opts);
}

std::vector<std::string> scorer_names() {
  std::vector<std::string> names;
  for (const ScorerDefinition* e : scorer_definitions()) names.push_back(e->name);
  return names;
}

std::vector<std::string> scorer_metrics(const std::string& name) {
  std::vector<std::string> names;
  for (const MetricDefinition* m : find_scorer(name).metrics) names.push_back(m->name);
  return names;
}

// The built-in scorers, one line each: X(NAME) stands for `detail::NAME_scorer()`, defined with
// its metrics in scorers/NAME.cc. Adding a scorer is that file and a line here.
#define KEVAL_BUILTIN_SCORERS(X) \
  X(multiple_choice)             \
  X(kobbq)                       \
  X(korquad)                     \
  X(numeric)                     \
  X(similarity)                  \
  X(dialogue)

namespace detail {
#define KEVAL_DECLARE_SCORER(name) const ScorerDefinition& name##_scorer();
KEVAL_BUILTIN_SCORERS(KEVAL_DECLARE_SCORER)
#undef KEVAL_DECLARE_SCORER
} // namespace detail

const std::vector<const ScorerDefinition*>& scorer_definitions() {
  static const std::vector<const ScorerDefinition*> definitions = [] {
#define KEVAL_LIST_SCORER(name) &detail::name##_scorer(),
    std::vector<const ScorerDefinition*> all = {KEVAL_BUILTIN_SCORERS(KEVAL_LIST_SCORER)};
#undef KEVAL_LIST_SCORER
    // Registering a name twice is an error (the second would never be found).
    for (size_t i = 0; i < all.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (all[i]->name == all[j]->name) throw std::logic_error("scorer '" + all[i]->name + "' is registered twice");
    return all;
  }();
  return definitions;
}

namespace detail {

double number_option(const std::string& scorer, const nlohmann::json& options, const std::string& key,
                     double fallback) {
  const auto it = options.find(key);
  if (it == options.end() || it->is_null()) return fallback;
  if (!it->is_number())
    throw InputError(fmt::format("scorer '{}': option '{}' must be a number, got {}", scorer, key, it->dump()));
  return it->get<double>();
}

std::string string_option(const std::string& scorer, const nlohmann::json& options, const std::string& key,
                          const std::string& fallback) {
  const auto it = options.find(key);
  if (it == options.end() || it->is_null()) return fallback;
  if (!it->is_string())
    throw InputError(fmt::format("scorer '{}': option '{}' must be a string, got {}", scorer, key, it->dump()));
  return it->get<std::string>();
}

std::vector<std::string> strings_option(const std::string& scorer, const nlohmann::json& options,
                                        const std::string& key, const std::vector<std::string>& fallback) {
  const auto it = options.find(key);
  if (it == options.end() || it->is_null()) return fallback;
  auto bad = [&] {
    return InputError(
        fmt::format("scorer '{}': option '{}' must be a list of strings, got {}", scorer, key, it->dump()));
  };
  if (!it->is_array()) throw bad();
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) throw bad();
    out.push_back(v.get<std::string>());
  }
  return out;
}

void flag_invalid_utf8(const ModelOutput& output, SampleScore& score) {
  for (const auto& t : output.texts)
    if (!normalize::is_valid_utf8(t)) {
      score.meta["invalid_utf8"] = true;
      return;
    }
}

std::optional<double> field_number(const nlohmann::json& fields, const std::string& key) {
  if (!fields.is_object()) return std::nullopt;
  const auto it = fields.find(key);
  if (it == fields.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string s = text::trim(it->get<std::string>());
    double v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec == std::errc() && res.ptr == s.data() + s.size()) return v;
  }
  return std::nullopt;
}

} // namespace detail

} // namespace keval
