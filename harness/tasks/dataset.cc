#include "dataset.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "delimited.h"
#include "error.h"
#include "sha256.h"
#include "text.h"

namespace keval {

const std::vector<std::string> k_dataset_formats = {"tsv", "csv", "jsonl", "json", "squad", "kice"};

namespace {

// tsv/csv: a header row names the columns; every later row becomes {column: cell}.
// KorNLI/KorSTS hold raw double quotes, so TSV is read with quoting disabled; KMMLU's math
// files order their columns differently, so columns are only ever read by name.
void rows_from_delimited(const std::vector<DelimitedRow>& table, const std::string& path,
                         PackedRows& rows, std::vector<size_t>& lines) {
  if (table.empty()) throw InputError(fmt::format("{}: empty file (a header row is required)", path));
  const auto& header = table.front().cells;
  for (size_t i = 1; i < table.size(); ++i) {
    const auto& row = table[i];
    if (row.cells.size() == 1 && row.cells[0].empty()) continue; // blank line
    if (row.cells.size() != header.size())
      throw InputError(fmt::format("{}:{}: expected {} columns (as the header), found {}", path, row.line,
                                   header.size(), row.cells.size()));
    nlohmann::json obj = nlohmann::json::object();
    for (size_t c = 0; c < header.size(); ++c) obj[header[c]] = row.cells[c];
    rows.push_back(std::move(obj));
    lines.push_back(row.line);
  }
}

// jsonl: one JSON object a line (LogicKor's files start with a byte-order mark).
void rows_from_jsonl(std::string_view content, const std::string& path, PackedRows& rows,
                     std::vector<size_t>& lines) {
  content = text::strip_bom(content);
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (text::trim(line).empty()) {
      if (end == content.size()) break;
      continue;
    }
    nlohmann::json obj;
    try {
      obj = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number beyond a double (out_of_range)
      throw InputError(fmt::format("{}:{}: malformed JSON: {}", path, line_no, e.what()));
    }
    if (!obj.is_object()) throw InputError(fmt::format("{}:{}: expected a JSON object", path, line_no));
    rows.push_back(std::move(obj));
    lines.push_back(line_no);
    if (end == content.size()) break;
  }
}

nlohmann::json parse_json_document(std::string_view content, const std::string& path) {
  try {
    return nlohmann::json::parse(text::strip_bom(content));
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number beyond a double (out_of_range)
    throw InputError(fmt::format("{}: malformed JSON: {}", path, e.what()));
  }
}

// json: a top-level array of objects (CLIcK, KLUE).
void rows_from_json(std::string_view content, const std::string& path, PackedRows& rows,
                    std::vector<size_t>& lines) {
  nlohmann::json doc = parse_json_document(content, path);
  if (!doc.is_array()) throw InputError(fmt::format("{}: expected a top-level JSON array", path));
  for (size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].is_object()) throw InputError(fmt::format("{}: item {} is not a JSON object", path, i));
    rows.push_back(std::move(doc[i]));
    lines.push_back(0);
  }
}

// squad: SQuAD v1.1 layout, as KorQuAD 1.0 ships it:
//   {"version": …, "data": [{"title": …, "paragraphs": [{"context": …,
//      "qas": [{"id": …, "question": …, "answers": [{"text": …, "answer_start": N}]}]}]}]}
// One row per question: id, title, context, question, answers (the answer texts).
void rows_from_squad(std::string_view content, const std::string& path, PackedRows& rows,
                     std::vector<size_t>& lines) {
  nlohmann::json doc = parse_json_document(content, path);
  try {
    for (const auto& article : doc.at("data")) {
      for (const auto& paragraph : article.at("paragraphs")) {
        for (const auto& qa : paragraph.at("qas")) {
          nlohmann::json answers = nlohmann::json::array();
          for (const auto& a : qa.at("answers")) answers.push_back(a.at("text"));
          rows.push_back({{"id", qa.at("id")},
                          {"title", article.value("title", "")},
                          {"context", paragraph.at("context")},
                          {"question", qa.at("question")},
                          {"answers", std::move(answers)}});
          lines.push_back(0);
        }
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not in SQuAD v1.1 layout: {}", path, e.what()));
  }
}

// kice: a KICE exam as KICE_slayer stores it: an array of passages
//   [{"id": "2023_11_KICE_1-3", "paragraph": …, "type": 0,
//     "problems": [{"question": …, "question_plus": …?, "choices": [5 texts], "answer": 1-5, "score": 2|3}]}]
// One row per problem: the passage's fields, the problem's fields, `number` (the problem's 1-based
// position in the exam) and `id` = "<passage id>/<number>".
void rows_from_kice(std::string_view content, const std::string& path, PackedRows& rows,
                    std::vector<size_t>& lines) {
  nlohmann::json doc = parse_json_document(content, path);
  if (!doc.is_array()) throw InputError(fmt::format("{}: expected a top-level JSON array of passages", path));
  int number = 0;
  try {
    for (const auto& passage : doc) {
      for (const auto& problem : passage.at("problems")) {
        ++number;
        nlohmann::json row = problem;
        row["passage_id"] = passage.at("id");
        row["paragraph"] = passage.value("paragraph", "");
        row["passage_type"] = passage.value("type", 0);
        row["number"] = number;
        row["id"] = fmt::format("{}/{}", passage.at("id").get<std::string>(), number);
        if (!row.contains("question_plus")) row["question_plus"] = "";
        rows.push_back(std::move(row));
        lines.push_back(0);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not in the KICE exam layout: {}", path, e.what()));
  }
}

} // namespace

DatasetCache::DatasetCache(std::string datasets_dir) : m_root(std::move(datasets_dir)) {}

const DatasetCache::FileRows& DatasetCache::load_file(const std::string& relative, const std::string& format,
                                                      const std::string& task_file) {
  std::string key = format + "\n" + relative;
  auto it = m_files.find(key);
  if (it != m_files.end()) return it->second;

  std::string path = (std::filesystem::path(m_root) / relative).string();
  if (!std::filesystem::exists(path))
    throw InputError(fmt::format("{}: dataset file '{}' not found (looked in {})", task_file, relative, m_root));
  std::string content = read_file(path);
  FileRows file;
  file.sha256 = sha256_hex(content);
  file.rows.reserve(content.size());  // CBOR runs about as long as the JSON text: few reallocations
  if (format == "tsv") rows_from_delimited(parse_tsv(content), path, file.rows, file.lines);
  else if (format == "csv") rows_from_delimited(parse_csv(content, path), path, file.rows, file.lines);
  else if (format == "jsonl") rows_from_jsonl(content, path, file.rows, file.lines);
  else if (format == "json") rows_from_json(content, path, file.rows, file.lines);
  else if (format == "squad") rows_from_squad(content, path, file.rows, file.lines);
  else if (format == "kice") rows_from_kice(content, path, file.rows, file.lines);
  else throw InputError(fmt::format("{}: unknown dataset format '{}'", task_file, format));
  file.rows.shrink_to_fit();
  return m_files.emplace(key, std::move(file)).first->second;
}

bool DatasetCache::keep_row(const DatasetSpec& spec, const FileRows& file, size_t i, const std::string& path,
                            const std::string& task_file) const {
  if (spec.filter.empty()) return true;
  const nlohmann::json row = file.rows[i];
  for (const auto& [field, value] : spec.filter) {
    auto f = row.find(field);
    if (f == row.end()) {
      std::string where = file.lines[i] ? fmt::format("{}:{}", path, file.lines[i]) : path;
      throw InputError(fmt::format("{}: filter field '{}' missing in {}", task_file, field, where));
    }
    if (json_text(*f) != value) return false;
  }
  return true;
}

size_t DatasetCache::count(const DatasetSpec& spec, const std::string& task_file) {
  size_t n = 0;
  for (const auto& relative : spec.files) {
    const FileRows& file = load_file(relative, spec.format, task_file);
    std::string path = (std::filesystem::path(m_root) / relative).string();
    for (size_t i = 0; i < file.rows.size(); ++i) n += keep_row(spec, file, i, path, task_file) ? 1 : 0;
  }
  return n;
}

std::string DatasetCache::sha256(const DatasetSpec& spec, const std::string& task_file) {
  Sha256 hash;
  for (const auto& relative : spec.files) hash.update(load_file(relative, spec.format, task_file).sha256);
  return hash.hex_digest();
}

void DatasetCache::retain_only(const std::vector<std::string>& keep) {
  for (auto it = m_files.begin(); it != m_files.end();) {
    std::string path = it->first.substr(it->first.find('\n') + 1);
    if (std::find(keep.begin(), keep.end(), path) == keep.end()) it = m_files.erase(it);
    else ++it;
  }
}

DatasetRows DatasetCache::load(const DatasetSpec& spec, const std::string& task_file) {
  return collect(spec, task_file);
}

DatasetRows DatasetCache::take(const DatasetSpec& spec, const std::string& task_file) {
  DatasetRows out = collect(spec, task_file);
  for (const auto& relative : spec.files) m_files.erase(spec.format + "\n" + relative);
  return out;
}

DatasetRows DatasetCache::collect(const DatasetSpec& spec, const std::string& task_file) {
  DatasetRows out;
  Sha256 hash;
  for (const auto& relative : spec.files) {
    const FileRows& file = load_file(relative, spec.format, task_file);
    hash.update(file.sha256);
    std::string path = (std::filesystem::path(m_root) / relative).string();
    out.paths.push_back(path);
    const auto path_index = static_cast<uint32_t>(out.paths.size() - 1);
    for (size_t i = 0; i < file.rows.size(); ++i) {
      if (!keep_row(spec, file, i, path, task_file)) continue;
      out.origins.push_back({path_index, static_cast<uint32_t>(file.lines[i]), static_cast<uint32_t>(i)});
      if (spec.list_fields.empty()) {
        out.rows.push_back_from(file.rows, i);
        continue;
      }
      nlohmann::json copy = file.rows[i];
      for (const auto& field : spec.list_fields) {
        auto f = copy.find(field);
        if (f == copy.end()) throw InputError(fmt::format("{}: field '{}' missing", out.origin(out.origins.size() - 1), field));
        if (f->is_string())
          *f = parse_python_string_list(f->get<std::string>(),
                                        fmt::format("{} (field '{}')", out.origin(out.origins.size() - 1), field));
      }
      out.rows.push_back(copy);
    }
  }
  out.rows.shrink_to_fit();
  out.sha256 = hash.hex_digest();
  return out;
}

void PackedRows::push_back(const nlohmann::json& row) {
  nlohmann::json::to_cbor(row, m_bytes);
  m_ends.push_back(m_bytes.size());
}

void PackedRows::push_back_from(const PackedRows& other, size_t i) {
  size_t begin = i ? other.m_ends[i - 1] : 0;
  m_bytes.insert(m_bytes.end(), other.m_bytes.begin() + static_cast<long>(begin),
                 other.m_bytes.begin() + static_cast<long>(other.m_ends[i]));
  m_ends.push_back(m_bytes.size());
}

nlohmann::json PackedRows::operator[](size_t i) const {
  size_t begin = i ? m_ends[i - 1] : 0;
  return nlohmann::json::from_cbor(m_bytes.begin() + static_cast<long>(begin), m_bytes.begin() + static_cast<long>(m_ends[i]));
}

void PackedRows::reserve(size_t bytes) { m_bytes.reserve(bytes); }

void PackedRows::shrink_to_fit() {
  m_bytes.shrink_to_fit();
  m_ends.shrink_to_fit();
}

std::string DatasetRows::origin(size_t i) const {
  const Origin& o = origins[i];
  return o.line ? fmt::format("{}:{}", paths[o.path], o.line) : fmt::format("{} (item {})", paths[o.path], o.item);
}

std::string DatasetCache::json_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::vector<std::string> parse_python_string_list(const std::string& s, const std::string& where) {
  std::vector<std::string> items;
  size_t i = 0;
  auto skip_space = [&] { while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i; };
  auto fail = [&](const char* what) { return InputError(fmt::format("{}: {} in list {}", where, what, s)); };
  skip_space();
  if (i >= s.size() || s[i] != '[') throw fail("expected '['");
  ++i;
  skip_space();
  if (i < s.size() && s[i] == ']') return items;
  while (true) {
    skip_space();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) throw fail("expected a quoted string");
    char quote = s[i++];
    std::string item;
    while (i < s.size() && s[i] != quote) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        char e = s[i + 1];
        item += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        i += 2;
      } else {
        item += s[i++];
      }
    }
    if (i >= s.size()) throw fail("unterminated string");
    ++i;
    items.push_back(std::move(item));
    skip_space();
    if (i < s.size() && s[i] == ',') { ++i; skip_space(); if (i < s.size() && s[i] == ']') break; continue; }
    if (i < s.size() && s[i] == ']') break;
    throw fail("expected ',' or ']'");
  }
  return items;
}

} // namespace keval
