#include "samples.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "template.h"
#include "error.h"
#include "text.h"

namespace keval {
namespace {

std::string field_text(const nlohmann::json& v) { return json_to_text(v); }

struct CompiledTask {
  Template prompt;
  Template generation_prompt;
  Template fewshot_target;
  Template option;
  std::vector<Template> choices;
};

CompiledTask compile(const TaskConfig& t) {
  auto where = [&](const char* key) { return fmt::format("{} ({})", t.source_file, key); };
  CompiledTask c;
  c.prompt = Template::parse(t.prompt, where("prompt"));
  c.generation_prompt = Template::parse(t.generation_prompt.empty() ? t.prompt : t.generation_prompt,
                                        where(t.generation_prompt.empty() ? "prompt" : "generation_prompt"));
  c.fewshot_target = Template::parse(t.fewshot_target, where("fewshot_target"));
  c.option = Template::parse(t.option_format, where("option_format"));
  for (const auto& choice : t.choices) c.choices.push_back(Template::parse(choice, where("choices")));
  return c;
}

// One row prepared for rendering: derived fields added, choices and gold read.
struct PreparedRow {
  nlohmann::json fields;
  std::vector<std::string> choices;
  std::vector<std::string> labels;
  int gold = -1;
  std::vector<std::string> references;
  std::optional<double> gold_number;
  std::string options;  // rendered {{options}}
};

class RowContext {
public:
  RowContext(const PreparedRow& row, const std::string* gold_label, const std::string* gold_choice)
      : m_row(row) {
    m_options = row.options;
    m_labels = text::join(row.labels, ", ");
    if (gold_label) m_gold_label = *gold_label;
    if (gold_choice) m_gold_choice = *gold_choice;
    m_has_gold = gold_label != nullptr;
  }
  const nlohmann::json* operator()(std::string_view name) const {
    if (name == "options") return &m_options;
    if (name == "labels") return &m_labels;
    if (m_has_gold && name == "gold_label") return &m_gold_label;
    if (m_has_gold && name == "gold_choice") return &m_gold_choice;
    return json_path(m_row.fields, name);
  }

private:
  const PreparedRow& m_row;
  nlohmann::json m_options, m_labels, m_gold_label, m_gold_choice;
  bool m_has_gold = false;
};

// A whole number in int's range, else nullopt (a cast of anything outside it is undefined).
std::optional<int> whole_int(double d) {
  if (!(d >= std::numeric_limits<int>::min() && d <= std::numeric_limits<int>::max())) return std::nullopt;
  if (d != std::trunc(d)) return std::nullopt;
  return static_cast<int>(d);
}

int parse_int(const nlohmann::json& v, const std::string& where) {
  if (v.is_number_integer()) {
    // get<int> would wrap 4294967296 to 0: a wrong gold, silently.
    if (v.is_number_unsigned() ? v.get<unsigned long long>() <= static_cast<unsigned long long>(std::numeric_limits<int>::max())
                               : (v.get<long long>() >= std::numeric_limits<int>::min() &&
                                  v.get<long long>() <= std::numeric_limits<int>::max()))
      return v.get<int>();
  } else if (v.is_number_float()) {
    if (auto i = whole_int(v.get<double>())) return *i;
  } else if (v.is_string()) {
    std::string s = text::trim(v.get<std::string>());
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size())
        if (auto i = whole_int(d)) return *i;
    } catch (...) {
    }
  }
  throw InputError(fmt::format("{}: expected an integer answer, found {}", where, v.dump()));
}

PreparedRow prepare(const TaskConfig& t, const CompiledTask& c, nlohmann::json raw, const std::string& origin) {
  PreparedRow row;
  row.fields = std::move(raw);
  for (const auto& d : t.derived) {
    const nlohmann::json* from = json_path(row.fields, d.from);
    if (!from)
      throw InputError(fmt::format("{}: field '{}' (needed by derived field '{}' in {}) is missing", origin, d.from, d.name, t.source_file));
    std::string key = field_text(*from);
    auto it = d.map.find(key);
    if (it == d.map.end())
      throw InputError(fmt::format("{}: value '{}' of field '{}' is not in the map of derived field '{}' ({})", origin, key,
                                   d.from, d.name, t.source_file));
    row.fields[d.name] = it->second;
  }

  if (t.output_type == OutputType::multiple_choice) {
    RowContext ctx(row, nullptr, nullptr);
    if (!t.choices_field.empty()) {
      const nlohmann::json* list = json_path(row.fields, t.choices_field);
      if (!list || !list->is_array())
        throw InputError(fmt::format("{}: choices field '{}' is missing or not a list ({})", origin, t.choices_field, t.source_file));
      for (const auto& item : *list) row.choices.push_back(field_text(item));
    } else {
      for (const auto& tmpl : c.choices) row.choices.push_back(tmpl.render(ctx));
    }
    if (row.choices.size() < 2) throw InputError(fmt::format("{}: fewer than two choices", origin));
    if (t.choice_labels.size() < row.choices.size())
      throw InputError(fmt::format("{}: {} choices but only {} choice_labels in {}", origin, row.choices.size(),
                                   t.choice_labels.size(), t.source_file));
    row.labels.assign(t.choice_labels.begin(), t.choice_labels.begin() + static_cast<long>(row.choices.size()));
    for (size_t i = 0; i < row.choices.size(); ++i) {
      nlohmann::json label = row.labels[i], choice = row.choices[i];
      if (i) row.options += t.option_separator;
      c.option.render_to(row.options, [&](std::string_view name) -> const nlohmann::json* {
        if (name == "label") return &label;
        if (name == "choice") return &choice;
        return json_path(row.fields, name);
      });
    }
  }

  if (t.output_type == OutputType::dialogue) return row;
  const nlohmann::json* target = json_path(row.fields, t.target.field);
  if (!target) throw InputError(fmt::format("{}: target field '{}' is missing ({})", origin, t.target.field, t.source_file));
  const std::string& kind = t.target.kind;
  if (kind == "index") {
    row.gold = parse_int(*target, fmt::format("{} (field '{}')", origin, t.target.field)) - t.target.base;
  } else if (kind == "label_map") {
    std::string key = text::trim(field_text(*target));
    auto it = t.target.label_map.find(key);
    if (it == t.target.label_map.end())
      throw InputError(fmt::format("{}: answer '{}' is not in the target map of {}", origin, key, t.source_file));
    row.gold = it->second;
  } else if (kind == "choice_text") {
    std::string answer = text::nfc(text::trim(field_text(*target)));
    for (size_t i = 0; i < row.choices.size() && row.gold < 0; ++i)
      if (text::nfc(text::trim(row.choices[i])) == answer) row.gold = static_cast<int>(i);
    if (row.gold < 0) throw InputError(fmt::format("{}: answer '{}' is none of the choices", origin, answer));
  } else if (kind == "text") {
    row.references.push_back(field_text(*target));
  } else if (kind == "texts") {
    if (!target->is_array() || target->empty())
      throw InputError(fmt::format("{}: target field '{}' must be a non-empty list", origin, t.target.field));
    for (const auto& item : *target) row.references.push_back(field_text(item));
  } else if (kind == "number") {
    try {
      row.gold_number = target->is_number() ? target->get<double>() : std::stod(field_text(*target));
    } catch (...) {
      throw InputError(fmt::format("{}: target field '{}' is not a number: {}", origin, t.target.field, target->dump()));
    }
  }
  if (t.output_type == OutputType::multiple_choice && (row.gold < 0 || row.gold >= static_cast<int>(row.choices.size())))
    throw InputError(fmt::format("{}: gold answer index {} is out of range for {} choices", origin, row.gold, row.choices.size()));
  return row;
}

// What a few-shot example ends with. Multiple choice: the gold continuation's text, i.e. lm-eval's
// doc_to_choice[doc_to_target] (KMMLU's letter, KoBEST's word); generation mode answers with the
// gold label. A task's `fewshot_target` overrides both; free text: the first reference.
std::string fewshot_answer(const TaskConfig& t, const CompiledTask& c, const PreparedRow& ex, bool generation) {
  std::string gold_label = ex.gold >= 0 ? ex.labels[static_cast<size_t>(ex.gold)] : "";
  std::string gold_choice = ex.gold >= 0 ? ex.choices[static_cast<size_t>(ex.gold)]
                                         : (ex.references.empty() ? "" : ex.references.front());
  if (generation && t.output_type == OutputType::multiple_choice) return gold_label;
  if (!c.fewshot_target.empty()) {
    RowContext ctx(ex, &gold_label, &gold_choice);
    return c.fewshot_target.render(ctx);
  }
  if (t.output_type == OutputType::multiple_choice && t.continuations == "labels") return gold_label;
  return gold_choice;
}

} // namespace

struct SampleBuilder::Compiled {
  CompiledTask templates;
};

// One pool row rendered as an example: context, target delimiter, answer, separator.
struct SampleBuilder::Example {
  nlohmann::json row;  // as read, kept only when the pool is the evaluated split (to recognise that row)
  std::string prompt, generation_prompt;
};

SampleBuilder::SampleBuilder(const TaskConfig& t, DatasetRows rows, std::optional<DatasetRows> fewshot_rows,
                             const FewshotOptions& fewshot, std::optional<size_t> limit)
    : m_task(&t), m_rows(std::move(rows)), m_compiled(std::make_unique<Compiled>(Compiled{compile(t)})),
      m_random(fewshot.seed) {
  if (fewshot.count < 0) throw InputError("--num-fewshot must be 0 or more");
  if (fewshot.count > 0) {
    if (!fewshot_rows)
      throw InputError(fmt::format("{}: --num-fewshot {} given but the task has no 'fewshot' source", t.source_file, fewshot.count));
    m_pool = std::move(fewshot_rows);
    m_fewshot_count = fewshot.count;
    // lm-eval: `eval_doc=doc if fewshot split == test split`, compared by the splits' names.
    m_pool_is_eval_split = t.fewshot && !t.fewshot->split.empty() && t.fewshot->split == t.dataset.split;
    const size_t needed = static_cast<size_t>(m_fewshot_count) + (m_pool_is_eval_split && t.fewshot_sampler != "first_n" ? 1 : 0);
    if (needed > m_pool->rows.size())
      throw InputError(fmt::format("{}: {} few-shot examples asked{}, the few-shot source has {}", t.source_file,
                                   m_fewshot_count, needed > static_cast<size_t>(m_fewshot_count) ? " (one more is drawn: the source is the evaluated split)" : "",
                                   m_pool->rows.size()));
    m_examples.resize(m_pool->rows.size());
  }
  m_size = m_rows.rows.size();
  if (limit && *limit < m_size) m_size = *limit;
}

const SampleBuilder::Example& SampleBuilder::example(size_t i) {
  if (!m_examples[i]) {
    const TaskConfig& t = *m_task;
    const CompiledTask& c = m_compiled->templates;
    auto e = std::make_unique<Example>();
    nlohmann::json row = m_pool->rows[i];
    if (m_pool_is_eval_split) e->row = row;
    PreparedRow ex = prepare(t, c, std::move(row), m_pool->origin(i));
    RowContext ctx(ex, nullptr, nullptr);
    for (bool generation : {false, true}) {
      std::string& out = generation ? e->generation_prompt : e->prompt;
      (generation ? c.generation_prompt : c.prompt).render_to(out, ctx);
      out += t.target_delimiter;
      out += fewshot_answer(t, c, ex, generation);
      out += t.fewshot_separator;
    }
    m_examples[i] = std::move(e);
  }
  return *m_examples[i];
}

void SampleBuilder::fewshot_prefix(size_t row, std::string& prompt, std::string& generation_prompt) {
  if (m_fewshot_count == 0) return;  // lm-eval draws nothing (the generator does not advance)
  const auto k = static_cast<size_t>(m_fewshot_count);
  std::vector<size_t> picked;
  if (m_task->fewshot_sampler == "first_n") {
    // FirstNSampler: the pool's first k rows (without the evaluated row when it is in the pool).
    for (size_t i = 0; i < m_pool->rows.size() && picked.size() < k; ++i) picked.push_back(i);
  } else {
    picked = m_random.sample(m_pool->rows.size(), m_pool_is_eval_split ? k + 1 : k);
  }
  if (m_pool_is_eval_split) {
    const nlohmann::json evaluated = m_rows.rows[row];
    std::vector<size_t> kept;
    const size_t candidates = m_task->fewshot_sampler == "first_n" ? m_pool->rows.size() : picked.size();
    for (size_t n = 0; n < candidates && kept.size() < k; ++n) {
      size_t i = m_task->fewshot_sampler == "first_n" ? n : picked[n];
      if (example(i).row != evaluated) kept.push_back(i);
    }
    if (kept.size() < k)
      throw InputError(fmt::format("{}: fewer than {} few-shot examples remain once the evaluated row is left out "
                                   "(it appears more than once in the few-shot source)", m_rows.origin(row), k));
    picked = std::move(kept);
  }
  for (size_t i : picked) {
    const Example& e = example(i);
    prompt += e.prompt;
    generation_prompt += e.generation_prompt;
  }
}

SampleBuilder::~SampleBuilder() = default;
SampleBuilder::SampleBuilder(SampleBuilder&&) noexcept = default;

std::vector<Sample> SampleBuilder::build(size_t from, size_t to) {
  if (from != m_next || to < from || to > m_size)
    throw std::logic_error(fmt::format("SampleBuilder::build({}, {}): ranges go in order, next is {}", from, to, m_next));
  m_next = to;
  const TaskConfig& t = *m_task;
  const CompiledTask& c = m_compiled->templates;
  std::vector<Sample> samples;
  samples.reserve(to - from);
  for (size_t i = from; i < to; ++i) {
    const std::string origin = m_rows.origin(i);
    PreparedRow row = prepare(t, c, m_rows.rows[i], origin);
    Sample s;
    s.task = t.name;
    s.index = i;
    if (t.id_field.empty()) {
      s.id = std::to_string(i);
    } else {
      const nlohmann::json* id = json_path(row.fields, t.id_field);
      if (!id || field_text(*id).empty())
        throw InputError(fmt::format("{}: id field '{}' is missing or empty ({})", origin, t.id_field, t.source_file));
      s.id = field_text(*id);
    }
    if (!m_ids.insert(s.id).second)
      throw InputError(fmt::format("{}: sample id '{}' appears twice in task {}", origin, s.id, t.name));

    RowContext ctx(row, nullptr, nullptr);
    if (t.output_type == OutputType::dialogue) {
      const nlohmann::json* turns = json_path(row.fields, t.turns_field_path.front());
      if (!turns || !turns->is_array() || turns->empty())
        throw InputError(fmt::format("{}: turns field '{}' is missing or not a list", origin, t.turns_field_path.front()));
      for (const auto& turn : *turns) {
        if (t.max_turns > 0 && static_cast<int>(s.turns.size()) >= t.max_turns) break;
        s.turns.push_back(field_text(turn));
      }
    } else {
      fewshot_prefix(i, s.prompt, s.generation_prompt);
      c.prompt.render_to(s.prompt, ctx);
      c.generation_prompt.render_to(s.generation_prompt, ctx);
      if (s.generation_prompt == s.prompt) s.generation_prompt.clear();  // asked() returns prompt
    }
    s.choice_texts = std::move(row.choices);
    // What log-likelihood scores: the choices' text, or their labels (KMMLU, CLIcK score " A"…" D").
    for (const auto& choice : t.continuations == "labels" ? row.labels : s.choice_texts)
      s.choices.push_back(t.target_delimiter + choice);
    s.target_delimiter = t.target_delimiter;
    s.choice_labels = std::move(row.labels);
    s.gold = row.gold;
    s.references = std::move(row.references);
    s.gold_number = row.gold_number;
    s.fields = std::move(row.fields);
    samples.push_back(std::move(s));
  }
  return samples;
}

std::vector<Sample> build_samples(const TaskConfig& t, DatasetRows rows, std::optional<DatasetRows> fewshot_rows,
                                  const FewshotOptions& fewshot, std::optional<size_t> limit) {
  SampleBuilder builder(t, std::move(rows), std::move(fewshot_rows), fewshot, limit);
  return builder.build(0, builder.size());
}

} // namespace keval
