// `keval gate` end to end on replay fixtures with known outcomes: a candidate that is clearly
// equal, clearly worse, and worse by less than the margin.
#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "gate.h"
#include "support/cli.h"
#include "error.h"

namespace keval {
namespace {

using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::write_file;

constexpr int k_samples = 400;

std::string fixture(const std::string& name) { return std::string(KEVAL_TEST_FIXTURES) + "/gate/" + name; }

// One database with four replay runs of kobest_copa (generation mode, 400 samples):
//   base      right on the first 320 samples (acc 0.80)
//   same      the same answers                (acc 0.80, d = 0)
//   slightly  right on the first 312          (acc 0.78, d = −0.02: 8 pairs, all lost)
//   much      right on the first 200          (acc 0.50, d = −0.30)
class GateFixture : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_dir = new ScratchDir();
    auto r = run_keval("samples --json --task kobest_copa --limit " + std::to_string(k_samples));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> samples;
    std::stringstream ss(r.out);
    for (std::string line; std::getline(ss, line);)
      if (!line.empty()) samples.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(samples.size(), static_cast<size_t>(k_samples));
    for (auto [name, right] : std::vector<std::pair<std::string, int>>{{"base", 320}, {"same", 320}, {"slightly", 312}, {"much", 200}}) {
      std::string replay;
      for (size_t i = 0; i < samples.size(); ++i) {
        const int gold = samples[i]["gold"];
        const auto& labels = samples[i]["choice_labels"];
        const int answer = static_cast<int>(i) < right ? gold : 1 - gold;
        replay += nlohmann::json{{"task", "kobest_copa"}, {"id", samples[i]["id"]},
                                 {"response", labels[static_cast<size_t>(answer)].get<std::string>()}}
                      .dump() +
                  "\n";
      }
      const std::string file = *s_dir / (name + ".jsonl");
      write_file(file, replay);
      auto run = run_keval("run --backend replay --responses " + shell_quote(file) + " --tasks kobest_copa --limit " +
                           std::to_string(k_samples) + " --no-progress --name " + name + " --db " + db());
      ASSERT_EQ(run.exit_code, 0) << run.err;
    }
  }
  static void TearDownTestSuite() {
    delete s_dir;
    s_dir = nullptr;
  }
  static std::string db() { return *s_dir / "k.db"; }
  static testing::CommandResult gate(const std::string& cand, const std::string& config, const std::string& extra = "") {
    return run_keval("gate --db " + db() + " --baseline base --candidate " + cand + " --config " + shell_quote(fixture(config)) +
                     extra);
  }

  static inline ScratchDir* s_dir = nullptr;
};

TEST_F(GateFixture, ClearlyEqualPasses) {
  auto r = gate("same", "strict.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("gate passed"), std::string::npos) << r.out;
}

TEST_F(GateFixture, ClearlyWorseFails) {
  for (const char* config : {"margin.yaml", "strict.yaml"}) {
    auto r = gate("much", config);
    EXPECT_EQ(r.exit_code, 1) << config << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("FAIL kobest_copa acc: regression"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("gate failed: 1 of 1 rules"), std::string::npos) << r.out;
  }
}

TEST_F(GateFixture, WorseByLessThanTheMarginPasses) {
  auto r = gate("slightly", "margin.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The same drop is a significant regression when no drop is allowed: the margin decides.
  auto strict = gate("slightly", "strict.yaml");
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
}

TEST_F(GateFixture, FloorFailsEvenWithoutADrop) {
  auto r = gate("same", "floor.yaml");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("below the floor"), std::string::npos) << r.out;
}

TEST_F(GateFixture, WritesJUnitAndMarkdown) {
  ScratchDir out;
  auto r = gate("much", "margin.yaml", " --junit " + out / "gate.xml" + " --markdown " + out / "gate.md");
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const std::string xml = slurp(out.path() / "gate.xml");
  EXPECT_NE(xml.find("<testsuites name=\"keval gate\" tests=\"1\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"keval.gate\" name=\"kobest_copa acc\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"regression\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("baseline=0.8000 candidate=0.5000 diff=-0.3000"), std::string::npos) << xml;
  const std::string md = slurp(out.path() / "gate.md");
  EXPECT_NE(md.find("### keval gate: **failed** (1 of 1 rules)"), std::string::npos) << md;
  EXPECT_NE(md.find("| **FAIL** | kobest_copa `acc` | 400 | 0.8000 | 0.5000 | -0.3000 |"), std::string::npos) << md;

  auto pass = gate("same", "margin.yaml", " --junit " + out / "pass.xml");
  ASSERT_EQ(pass.exit_code, 0) << pass.err;
  const std::string ok = slurp(out.path() / "pass.xml");
  EXPECT_NE(ok.find("failures=\"0\""), std::string::npos);
  EXPECT_EQ(ok.find("<failure"), std::string::npos);
}

TEST_F(GateFixture, DefaultRulesWithoutAGateFile) {
  EXPECT_EQ(run_keval("gate --db " + db() + " --baseline base --candidate same").exit_code, 0);
  EXPECT_EQ(run_keval("gate --db " + db() + " --baseline base --candidate much").exit_code, 1);
}

TEST_F(GateFixture, ErrorsExitTwoNamingFileAndLine) {
  auto missing = run_keval("gate --db " + db() + " --baseline base --candidate nosuchrun --config " + shell_quote(fixture("margin.yaml")));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no run 'nosuchrun'"), std::string::npos) << missing.err;

  auto task = gate("same", "unknown_task.yaml");
  EXPECT_EQ(task.exit_code, 2);
  EXPECT_NE(task.err.find("unknown_task.yaml:5: task 'kobest_coap' cannot be compared: neither run has it"), std::string::npos)
      << task.err;
  EXPECT_NE(task.err.find("did you mean 'kobest_copa'"), std::string::npos) << task.err;

  auto key = gate("same", "unknown_key.yaml");
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_NE(key.err.find("unknown_key.yaml:5: unknown key 'max_dorp'"), std::string::npos) << key.err;
  EXPECT_NE(key.err.find("did you mean 'max_drop'"), std::string::npos) << key.err;

  auto alpha = gate("same", "bad_alpha.yaml");
  EXPECT_EQ(alpha.exit_code, 2);
  EXPECT_NE(alpha.err.find("bad_alpha.yaml:4: 'alpha' must be in (0, 0.5]"), std::string::npos) << alpha.err;

  auto syntax = gate("same", "syntax.yaml");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_NE(syntax.err.find("syntax.yaml:"), std::string::npos) << syntax.err;

  auto nofile = gate("same", "does_not_exist.yaml");
  EXPECT_EQ(nofile.exit_code, 2);
  EXPECT_NE(nofile.err.find("cannot read the gate file"), std::string::npos) << nofile.err;
}

TEST(GateConfig, ReadsRulesWithDefaults) {
  ScratchDir dir;
  write_file(dir.path() / "g.yaml", "alpha: 0.01\nrules:\n  - task: kobest\n    metric: acc\n    max_drop: 0.02\n"
                                    "  - task: kmmlu\n    alpha: 0.1\n    min_value: 0.3\n");
  GateConfig c = load_gate_config(dir / "g.yaml");
  EXPECT_DOUBLE_EQ(c.alpha, 0.01);
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].task, "kobest");
  EXPECT_EQ(c.rules[0].metric, "acc");
  EXPECT_DOUBLE_EQ(c.rules[0].max_drop, 0.02);
  EXPECT_DOUBLE_EQ(c.rules[0].alpha, 0.01);  // the file's default
  EXPECT_EQ(c.rules[0].line, 3);
  EXPECT_FALSE(c.rules[0].min_value);
  EXPECT_EQ(c.rules[1].metric, "");          // the task's first metric, chosen at evaluation
  EXPECT_DOUBLE_EQ(c.rules[1].alpha, 0.1);
  EXPECT_DOUBLE_EQ(*c.rules[1].min_value, 0.3);
  EXPECT_DOUBLE_EQ(c.rules[1].max_drop, 0.0);

  write_file(dir.path() / "dup.yaml", "rules:\n  - task: a\n    task: b\n");
  try {
    load_gate_config(dir / "dup.yaml");
    FAIL() << "duplicate key accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dup.yaml:3: duplicate key 'task' (first at line 2)"), std::string::npos) << e.what();
  }
  write_file(dir.path() / "neg.yaml", "rules:\n  - task: a\n    max_drop: -0.1\n");
  EXPECT_THROW(load_gate_config(dir / "neg.yaml"), InputError);
  write_file(dir.path() / "empty.yaml", "alpha: 0.05\nrules: []\n");
  EXPECT_THROW(load_gate_config(dir / "empty.yaml"), InputError);
}

} // namespace
} // namespace keval
