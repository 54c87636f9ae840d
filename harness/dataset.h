#pragma once
// Dataset readers: every format becomes rows of JSON objects keyed by field name, each row
// remembering the file and line it came from so errors can point at it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "task.h"

namespace keval {

struct DatasetRows {
  std::vector<nlohmann::json> rows;
  std::vector<std::string> origins;  // "path:line" of each row
  std::string sha256;                // of the files' content, in order
};

// Reads dataset files under one root, caching each file so tasks sharing a file read it once.
class DatasetCache {
public:
  explicit DatasetCache(std::string datasets_dir);
  // The rows `spec` names, filtered. `task_file` is named in errors.
  DatasetRows load(const DatasetSpec& spec, const std::string& task_file);
  // The same, moving the rows out of the cache and forgetting the files: no copy is made.
  DatasetRows take(const DatasetSpec& spec, const std::string& task_file);
  // How many rows `spec` names, and the sha256 of its files, without copying rows.
  size_t count(const DatasetSpec& spec, const std::string& task_file);
  std::string sha256(const DatasetSpec& spec, const std::string& task_file);
  // Drops every cached file not in `keep`: a run holds one task's data at a time.
  void retain_only(const std::vector<std::string>& keep);
  const std::string& root() const { return m_root; }

private:
  struct FileRows {
    std::vector<nlohmann::json> rows;
    std::vector<size_t> lines;
    std::string sha256;
  };
  bool keep_row(const DatasetSpec& spec, const FileRows& file, size_t i, const std::string& path,
                const std::string& task_file) const;
  DatasetRows collect(const DatasetSpec& spec, const std::string& task_file, bool take);
  const FileRows& load_file(const std::string& relative, const std::string& format, const std::string& task_file);

  std::string m_root;
  static std::string json_text(const nlohmann::json& value);
  std::map<std::string, FileRows> m_files;  // key: format + "\n" + path
};

// Parses a Python-style list literal of strings (`['a', "b"]`), as KoBBQ stores its choices.
// Throws InputError naming `where`.
std::vector<std::string> parse_python_string_list(const std::string& text, const std::string& where);

extern const std::vector<std::string> k_dataset_formats;

} // namespace keval
