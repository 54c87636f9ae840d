#pragma once
// Dataset readers: every format becomes rows of JSON objects keyed by field name, each row
// remembering the file and line it came from so errors can point at it.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "task.h"

namespace keval {

// Rows kept compact: each row's JSON encoded as CBOR in one buffer, decoded when used. A parsed
// nlohmann::json row costs a few allocations per field, so a large task's parsed rows would take
// several times its file's size.
class PackedRows {
public:
  void push_back(const nlohmann::json& row);
  void push_back_from(const PackedRows& other, size_t i);  // row i of `other`, copied as it is
  nlohmann::json operator[](size_t i) const;               // decoded anew at each call
  size_t size() const { return m_ends.size(); }
  bool empty() const { return m_ends.empty(); }
  void reserve(size_t bytes);
  void shrink_to_fit();

private:
  std::vector<std::uint8_t> m_bytes;
  std::vector<size_t> m_ends;  // row i is m_bytes[m_ends[i - 1], m_ends[i])
};

struct DatasetRows {
  PackedRows rows;
  std::string sha256;                // of the files' content, in order
  // "path:line" of row i ("path (item N)" for formats without lines), for errors.
  std::string origin(size_t i) const;

  struct Origin {
    uint32_t path = 0;  // index into paths
    uint32_t line = 0;  // 0: the format has no lines
    uint32_t item = 0;  // position in the file
  };
  std::vector<std::string> paths;
  std::vector<Origin> origins;       // of each row
};

// Reads dataset files under one root, caching each file so tasks sharing a file read it once.
class DatasetCache {
public:
  explicit DatasetCache(std::string datasets_dir);
  // The rows `spec` names, filtered. `task_file` is named in errors.
  DatasetRows load(const DatasetSpec& spec, const std::string& task_file);
  // The same, then forgets the files: a run holds one task's data at a time.
  DatasetRows take(const DatasetSpec& spec, const std::string& task_file);
  // How many rows `spec` names, and the sha256 of its files, without copying rows.
  size_t count(const DatasetSpec& spec, const std::string& task_file);
  std::string sha256(const DatasetSpec& spec, const std::string& task_file);
  // Drops every cached file not in `keep`: a run holds one task's data at a time.
  void retain_only(const std::vector<std::string>& keep);
  const std::string& root() const { return m_root; }

private:
  struct FileRows {
    PackedRows rows;
    std::vector<size_t> lines;
    std::string sha256;
  };
  bool keep_row(const DatasetSpec& spec, const FileRows& file, size_t i, const std::string& path,
                const std::string& task_file) const;
  DatasetRows collect(const DatasetSpec& spec, const std::string& task_file);
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
