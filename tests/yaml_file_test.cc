// Every keval YAML file (task, group, gate) goes through load_yaml_text: no content may crash,
// hang or pass silently; each refusal names the file and the line.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "support/errors.h"
#include "yaml_file.h"

namespace keval {
namespace {

using testing::expect_input_error;

std::string error_of(const std::string& yaml) {
  return expect_input_error([&] { load_yaml_text(yaml, "tasks/t.yaml"); });
}

// Nine levels of nine aliases each: 9^9 (387 million) leaves when expanded.
std::string alias_bomb() {
  std::string yaml = "task: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string n = std::to_string(i);
    yaml += "a";
    yaml += n;
    yaml += ": &a";
    yaml += n;
    yaml += " [";
    for (int k = 0; k < 9; ++k) {
      yaml += k ? ", *a" : "*a";
      yaml += std::to_string(i - 1);
    }
    yaml += "]\n";
  }
  return yaml;
}

TEST(YamlFile, ReadsAPlainMappingWithHangul) {
  YAML::Node root = load_yaml_text("task: 한국어\nlist: [가, 나]\nmap: {원인: 왜냐하면}\n", "t.yaml");
  EXPECT_EQ(root["task"].Scalar(), "한국어");
  EXPECT_EQ(root["list"][1].Scalar(), "나");
  EXPECT_EQ(root["map"]["원인"].Scalar(), "왜냐하면");
}

TEST(YamlFile, RefusesAnAliasCycleNamingTheLine) {
  // yaml-cpp turns this into a list that contains itself: any walk recursed until the stack ran out.
  auto e = error_of("task: x\nchoices: &loop [*loop]\n");
  EXPECT_NE(e.find("tasks/t.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("anchors"), std::string::npos) << e;
  auto map = error_of("a: &m {b: *m}\n");
  EXPECT_NE(map.find("tasks/t.yaml:1:"), std::string::npos) << map;
}

TEST(YamlFile, RefusesAnAliasBombQuickly) {
  const auto start = std::chrono::steady_clock::now();
  auto e = error_of(alias_bomb());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(e.find("tasks/t.yaml:2:"), std::string::npos) << e;
  EXPECT_LT(took, std::chrono::seconds(1));
}

TEST(YamlFile, RefusesAnyAnchorOrAliasEvenHarmless) {
  EXPECT_NE(error_of("a: &x 1\nb: 2\n").find("tasks/t.yaml:1:"), std::string::npos);
  // An alias to an anchor never defined is a yaml-cpp syntax error; still exit 2 with the line.
  EXPECT_NE(error_of("a: 1\nb: *nowhere\n").find("tasks/t.yaml:2:"), std::string::npos);
  // The merge key needs an alias, so it is refused too.
  auto merge = error_of("base: &b {x: 1}\nleaf:\n  <<: *b\n");
  EXPECT_NE(merge.find("tasks/t.yaml:1:"), std::string::npos) << merge;
}

TEST(YamlFile, RefusesInvalidUtf8WithLineAndColumn) {
  auto e = error_of("task: x\nprompt: \"질문 \xC3\x28\"\n");
  EXPECT_NE(e.find("tasks/t.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid UTF-8 (byte 0xC3)"), std::string::npos) << e;
  // A lone continuation byte, an overlong encoding, a UTF-16 surrogate, a truncated sequence.
  for (const std::string bad : {"a: \x80\n", "a: \xC0\xAF\n", "a: \xED\xA0\x80\n", "a: \xEA\xB0"})
    EXPECT_NE(error_of(bad).find("tasks/t.yaml:1:"), std::string::npos) << bad;
}

TEST(YamlFile, RefusesDeepNesting) {
  std::string deep(100000, '[');
  auto e = error_of("a: " + deep);
  EXPECT_NE(e.find("nested more than 64 levels"), std::string::npos) << e;
  std::string ok = "a: " + std::string(60, '[') + std::string(60, ']') + "\n";
  EXPECT_NO_THROW(load_yaml_text(ok, "t.yaml"));
}

TEST(YamlFile, RefusesDuplicateAndNonStringKeys) {
  EXPECT_NE(error_of("a: 1\nb:\n  c: 1\n  c: 2\n").find("tasks/t.yaml:4: duplicate key 'c' (first at line 3)"),
            std::string::npos);
  EXPECT_NE(error_of("? [x, y]\n: 1\n").find("tasks/t.yaml:1: a key must be a plain string"), std::string::npos);
}

TEST(YamlFile, RefusesASecondDocument) {
  EXPECT_NE(error_of("a: 1\n---\nb: 2\n").find("more than one YAML document"), std::string::npos);
}

TEST(YamlFile, SyntaxErrorsNameLineAndColumn) {
  auto e = error_of("a: 1\nb: [1, 2\n");
  EXPECT_NE(e.find("tasks/t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
}

TEST(YamlFile, UnreadableFileIsAnInputError) {
  auto e = expect_input_error([] { load_yaml_file("/nonexistent/t.yaml", "tasks/t.yaml", "task file"); });
  EXPECT_EQ(e, "tasks/t.yaml: cannot read the task file");
}

TEST(YamlFile, EndlessFileIsRefusedAtTheCap) {
  auto e = expect_input_error([] { load_yaml_file("/dev/zero", "tasks/t.yaml", "task file"); });
  EXPECT_EQ(e, "tasks/t.yaml: larger than 8 MiB, the limit for a keval YAML file");
}

} // namespace
} // namespace keval
