#pragma once
// Reading a keval YAML file (task, group and gate files) so that no content can crash or hang
// keval. yaml-cpp follows anchors and aliases as shared nodes: an alias to its own anchor makes a
// cycle (every walk recurses forever) and nested aliases make a "billion laughs" tree that takes
// exponential time to walk. keval files are short and written by hand, so these are refused
// outright (docs/task-format.md), together with invalid UTF-8, very deep nesting, more than one
// document, keys that are not plain strings and duplicate keys. Every error is an InputError
// naming display:line(:column).
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace keval {

inline constexpr int k_max_yaml_depth = 64;                   // nested mappings and lists
inline constexpr size_t k_max_yaml_bytes = size_t{8} << 20;  // 8 MiB: task files are a few KB

// Reads and checks `path`; `display` is the name errors give, `what` names the file when it
// cannot be read ("task file" gives "… cannot read the task file").
YAML::Node load_yaml_file(const std::string& path, const std::string& display, std::string_view what = "file");

// The same checks on text already read (tests and fuzzing use it directly).
YAML::Node load_yaml_text(std::string_view content, const std::string& display);

} // namespace keval
