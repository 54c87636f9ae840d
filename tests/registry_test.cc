// Every suite the issue names is registered with exactly its eval-split sample count.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "registry.h"
#include "support/cli.h"
#include "error.h"
#include "sha256.h"

namespace keval {
namespace {

TaskRegistry& real_registry() {
  static TaskRegistry registry(KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"});
  return registry;
}

size_t count(const std::string& name) {
  auto& r = real_registry();
  size_t n = 0;
  for (const TaskConfig* t : r.resolve({name})) n += r.count(*t);
  return n;
}

TEST(Registry, SampleCountsMatchThePublishedSplits) {
  const std::vector<std::pair<std::string, size_t>> expected = {
      {"kobest_boolq", 1404}, {"kobest_copa", 1000}, {"kobest_hellaswag", 500}, {"kobest_sentineg", 397},
      {"kobest_wic", 1260},   {"kmmlu", 35030},      {"click", 1995},           {"haerae_gk", 176},
      {"haerae_rc", 447},     {"csatqa_188", 188},       {"kice_2023", 45},         {"korquad_v1", 5774},
      {"kornli", 5010},       {"klue_nli", 3000},    {"korsts", 1379},          {"klue_sts", 519},
      {"kobbq", 2280},        {"ko_commongen_v2", 847}, {"logickor", 42},       {"komt_bench", 80}};
  for (const auto& [name, n] : expected) EXPECT_EQ(count(name), n) << name;
}

TEST(Registry, GroupsHoldTheirMembers) {
  auto& r = real_registry();
  EXPECT_EQ(r.group_tasks("kobest").size(), 5u);
  EXPECT_EQ(r.group_tasks("kmmlu").size(), 45u);
  EXPECT_EQ(r.group_tasks("haerae_partial").size(), 2u);
  size_t subgroup_total = 0;
  for (const char* g : {"kmmlu_stem", "kmmlu_humss", "kmmlu_applied_science", "kmmlu_other"}) {
    ASSERT_NE(r.find_group(g), nullptr) << g;
    subgroup_total += r.group_tasks(g).size();
  }
  EXPECT_EQ(subgroup_total, 45u);
  for (const auto& t : r.group_tasks("click")) EXPECT_TRUE(t.starts_with("click_")) << t;
  for (const auto& t : r.group_tasks("kmmlu")) EXPECT_TRUE(t.starts_with("kmmlu_")) << t;
}

TEST(Registry, EveryTaskBuildsItsSamples) {
  auto& r = real_registry();
  for (const auto& t : r.tasks()) {
    auto samples = r.samples(t, std::nullopt, 3);
    ASSERT_FALSE(samples.empty()) << t.name;
    for (const auto& s : samples) {
      EXPECT_FALSE(s.id.empty()) << t.name;
      if (t.output_type == OutputType::multiple_choice) {
        EXPECT_GE(s.choices.size(), 2u) << t.name;
        EXPECT_EQ(s.choices.size(), s.choice_labels.size()) << t.name;
        EXPECT_GE(s.gold, 0) << t.name;
        EXPECT_FALSE(s.prompt.empty()) << t.name;
      } else if (t.output_type == OutputType::dialogue) {
        EXPECT_EQ(s.turns.size(), 2u) << t.name << " " << s.id;
      } else {
        EXPECT_TRUE(!s.references.empty() || s.gold_number) << t.name;
      }
    }
  }
}

TEST(Registry, UnknownNameSuggestsTheClosest) {
  try {
    real_registry().resolve({"kobest_copaa"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'kobest_copa'"), std::string::npos) << e.what();
  }
}

TEST(Registry, KmmluReadsColumnsByHeaderName) {
  // math-*.csv swaps "Human Accuracy" and "Category"; reading by position would put 0.0 in Category.
  auto& r = real_registry();
  const TaskConfig* math = r.find_task("kmmlu_math");
  ASSERT_NE(math, nullptr);
  auto rows = r.rows(*math);
  ASSERT_EQ(rows.rows.size(), 300u);
  EXPECT_EQ(rows.rows[0].at("Category"), "Math");
  auto samples = r.samples(*math, 5, 1);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_NE(samples[0].prompt.find("정답"), std::string::npos);
}

TEST(Registry, SampleIdsAreStableAcrossLoads) {
  TaskRegistry again(KevalPaths{testing::source_dir() + "/tasks", testing::source_dir() + "/datasets"});
  for (const char* name : {"kobest_copa", "korquad_v1", "click_culture_law", "kice_2023", "logickor"}) {
    const TaskConfig* a = real_registry().find_task(name);
    const TaskConfig* b = again.find_task(name);
    ASSERT_TRUE(a && b) << name;
    auto sa = real_registry().samples(*a, std::nullopt, 20);
    auto sb = again.samples(*b, std::nullopt, 20);
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i].id, sb[i].id);
    EXPECT_EQ(real_registry().task_hash(*a), again.task_hash(*b));
  }
}

// The runner builds single-turn tasks a chunk at a time: ranges must give exactly the samples
// the whole task gives, few-shot prefix and row fields included.
TEST(Registry, SamplesBuiltInRangesEqualTheWholeTask) {
  auto& r = real_registry();
  for (auto [name, fewshot] : {std::pair{"kobest_copa", 5}, std::pair{"kmmlu_math", 5}, std::pair{"korquad_v1", 0}}) {
    const TaskConfig* t = r.find_task(name);
    ASSERT_NE(t, nullptr) << name;
    auto whole = r.samples(*t, fewshot, 50);
    SampleBuilder builder = r.sample_builder(*t, fewshot, 50);
    ASSERT_EQ(builder.size(), whole.size()) << name;
    std::vector<Sample> ranged;
    for (size_t from = 0; from < builder.size(); from += 7)
      for (auto& s : builder.build(from, std::min(builder.size(), from + 7))) ranged.push_back(std::move(s));
    ASSERT_EQ(ranged.size(), whole.size()) << name;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(ranged[i].id, whole[i].id) << name;
      EXPECT_EQ(ranged[i].index, whole[i].index) << name;
      EXPECT_EQ(ranged[i].prompt, whole[i].prompt) << name;
      EXPECT_EQ(ranged[i].asked(), whole[i].asked()) << name;
      EXPECT_EQ(ranged[i].choices, whole[i].choices) << name;
      EXPECT_EQ(ranged[i].gold, whole[i].gold) << name;
      EXPECT_EQ(ranged[i].references, whole[i].references) << name;
      EXPECT_EQ(ranged[i].fields, whole[i].fields) << name;
    }
  }
}

TEST(Registry, SampleRangesGoInOrder) {
  auto& r = real_registry();
  SampleBuilder builder = r.sample_builder(*r.find_task("kobest_copa"), std::nullopt, 20);
  EXPECT_THROW(builder.build(5, 10), std::logic_error);
  EXPECT_EQ(builder.build(0, 10).size(), 10u);
  EXPECT_THROW(builder.build(0, 10), std::logic_error);
  EXPECT_EQ(builder.build(10, 20).size(), 10u);
}

// Rows are kept as CBOR: what is decoded must equal what was read, number kinds included.
TEST(Datasets, PackedRowsGiveBackTheirRows) {
  std::vector<nlohmann::json> rows = {
      nlohmann::json::parse(R"({"q": "질문", "n": 3, "neg": -2, "x": 0.1, "big": 1e300, "ok": true, "none": null})"),
      nlohmann::json::parse(R"({"choices": ["사과", "배"], "nested": {"a": [1, {"b": "c"}]}, "empty": ""})"),
      nlohmann::json::object()};
  PackedRows packed, copied;
  for (const auto& row : rows) packed.push_back(row);
  for (size_t i = 0; i < packed.size(); ++i) copied.push_back_from(packed, i);
  ASSERT_EQ(packed.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(packed[i], rows[i]);
    EXPECT_EQ(packed[i].dump(), rows[i].dump());
    EXPECT_EQ(copied[i].dump(), rows[i].dump());
  }
}

// The datasets are byte-for-byte copies of the published files.
TEST(Datasets, MatchTheirChecksums) {
  std::string root = testing::source_dir() + "/datasets";
  std::ifstream sums(root + "/SHA256SUMS");
  ASSERT_TRUE(sums.good());
  std::string line;
  size_t checked = 0;
  while (std::getline(sums, line)) {
    if (line.empty()) continue;
    std::string digest = line.substr(0, 64);
    std::string path = line.substr(66);  // "<digest>  ./path with spaces"
    EXPECT_EQ(sha256_file_hex(root + "/" + path), digest) << path;
    ++checked;
  }
  EXPECT_GT(checked, 170u);
}

} // namespace
} // namespace keval
