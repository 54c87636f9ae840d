// keval's judged headlines against the reference implementations' own outputs, replayed through
// the keval binary:
// - KoMT-Bench's GPT-4 judgments (datasets/komt_bench/model_judgment/gpt-4_single_final.jsonl):
//   the prompts keval sends equal the recorded ones, the language rule penalises no answer the
//   reference left unpenalised, and the figures are show_result's (9.6250, 9.6000, 9.6125).
// - LogicKor: an evaluated file whose judge could not score some answers gives the means that
//   LogicKor's score.py prints (tests/logickor_score.py is that script, as the oracle).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "judge.h"
#include "registry.h"
#include "support/cli.h"
#include "text.h"

namespace keval {
namespace {

using nlohmann::json;
using testing::run_keval;
using testing::ScratchDir;
using testing::shell_quote;
using testing::slurp;
using testing::source_dir;
using testing::write_file;

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> rows;
  for (const auto& line : text::split(std::string(text::strip_bom(slurp(path))), '\n'))
    if (!text::trim(line).empty()) rows.push_back(json::parse(line));
  return rows;
}

// (metric) -> result row of a run's `results --json`.
std::map<std::string, json> results_of(const std::string& db, const std::string& run) {
  auto r = run_keval("results --json --db " + shell_quote(db) + " --run " + shell_quote(run));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, json> out;
  auto j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& t : j["tasks"]) out[t["metric"].get<std::string>()] = t;
  out["run"] = j["run"];
  return out;
}

// A figure as score.py prints it (f"{x:.2f}": both round the double correctly).
std::string fmt_two(double v) { return fmt::format("{:.2f}", v); }

// Rows of a read-only query, every column as text.
std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path;
    return rows;
  }
  sqlite3_exec(db, sql.c_str(), [](void* o, int n, char** v, char**) {
    std::vector<std::string> row;
    for (int i = 0; i < n; ++i) row.emplace_back(v[i] ? v[i] : "");
    static_cast<std::vector<std::vector<std::string>>*>(o)->push_back(std::move(row));
    return 0;
  }, &rows, nullptr);
  sqlite3_close(db);
  return rows;
}

// The values a FastChat template was filled with, read back from the filled text: each literal
// piece of the template is found in turn, and a placeholder holds what lies between two pieces.
// A placeholder that appears twice (the math multi-turn template) must hold the same text.
std::map<std::string, std::string> values_in(const std::string& filled, const std::string& pattern) {
  std::vector<std::string> literals, names;
  std::string literal;
  for (size_t i = 0; i < pattern.size();) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      literal += pattern.substr(i);
      break;
    }
    const size_t close = pattern.find('}', open);
    literal += pattern.substr(i, open - i);
    literals.push_back(literal);
    literal.clear();
    names.push_back(pattern.substr(open + 1, close - open - 1));
    i = close + 1;
  }
  literals.push_back(literal);
  std::map<std::string, std::string> out;
  EXPECT_TRUE(filled.starts_with(literals.front()) && filled.ends_with(literals.back())) << filled.substr(0, 120);
  size_t at = literals.front().size();
  for (size_t n = 0; n < names.size(); ++n) {
    const bool last = n + 1 == names.size();
    const size_t end = last ? filled.size() - literals.back().size() : filled.find(literals[n + 1], at);
    if (end == std::string::npos || end < at) {
      ADD_FAILURE() << "template piece not found: " << literals[n + 1];
      return out;
    }
    const std::string value = filled.substr(at, end - at);
    if (out.count(names[n])) {
      EXPECT_EQ(out[names[n]], value) << names[n];
    }
    out[names[n]] = value;
    at = end + literals[n + 1].size();
  }
  return out;
}

struct KoMtJudgment {
  std::string user_prompt, judgment, prompt_name;
  double score = 0;
};

// KoMT-Bench's recorded judgments by (question id, turn 1 or 2), and what their prompts show: the
// model's answers, and the questions and reference answers the judge was given (the recorded
// questions are an earlier wording than the shipped question_ko.jsonl: see
// TheRecordedQuestionsAreAnEarlierWording).
struct KoMtReplay {
  std::map<std::pair<std::string, int>, KoMtJudgment> judgments;
  std::map<std::string, std::vector<std::string>> answers, questions, references;  // question id -> turns
};

const KoMtReplay& komt_replay() {
  static const KoMtReplay replay = [] {
    KoMtReplay out;
    const std::string data = source_dir() + "/datasets/komt_bench/";
    std::map<std::string, json> prompts;
    for (const auto& p : read_jsonl(data + "judge_prompts_ko.jsonl")) prompts[p["name"]] = p;
    for (const auto& row : read_jsonl(data + "model_judgment/gpt-4_single_final.jsonl"))
      out.judgments[{row["question_id"].dump(), row["turn"].get<int>()}] = {
          row["user_prompt"], row["judgment"], row["judge"][1], row["score"].get<double>()};
    for (const auto& [key, j] : out.judgments) {
      if (key.second != 1) continue;
      const auto& second = out.judgments.at({key.first, 2});
      const auto one = values_in(j.user_prompt, prompts.at(j.prompt_name)["prompt_template"]);
      const auto two = values_in(second.user_prompt, prompts.at(second.prompt_name)["prompt_template"]);
      EXPECT_EQ(one.at("question"), two.at("question_1")) << key.first;
      EXPECT_EQ(one.at("answer"), two.at("answer_1")) << key.first;
      out.answers[key.first] = {one.at("answer"), two.at("answer_2")};
      out.questions[key.first] = {two.at("question_1"), two.at("question_2")};
      if (two.count("ref_answer_1")) out.references[key.first] = {two.at("ref_answer_1"), two.at("ref_answer_2")};
    }
    return out;
  }();
  return replay;
}

TEST(KoMtBenchReference, TheRecordedFileHoldsEveryTurnOfEveryQuestion) {
  const auto& replay = komt_replay();
  EXPECT_EQ(replay.judgments.size(), 160u);
  EXPECT_EQ(replay.answers.size(), 80u);
  EXPECT_EQ(replay.references.size(), 30u);  // math, reasoning, coding: 10 questions each
  for (const auto& [id, answers] : replay.answers) {
    ASSERT_EQ(answers.size(), 2u) << id;
    EXPECT_FALSE(answers[0].empty()) << id;
    EXPECT_FALSE(answers[1].empty()) << id;
  }
}

// KoMT-Bench's judgments were made on an earlier Korean wording of most questions than the
// question_ko.jsonl at the same commit: a run on the shipped questions sends other question
// texts, in otherwise identical prompts (docs/comparability.md).
TEST(KoMtBenchReference, TheRecordedQuestionsAreAnEarlierWording) {
  const auto& replay = komt_replay();
  size_t differ = 0, references_differ = 0;
  for (const auto& q : read_jsonl(source_dir() + "/datasets/komt_bench/question_ko.jsonl")) {
    const auto& recorded = replay.questions.at(q["question_id"].dump());
    differ += q["turns"][0] != recorded[0] || q["turns"][1] != recorded[1];
  }
  for (const auto& r : read_jsonl(source_dir() + "/datasets/komt_bench/reference_answer_ko/gpt-4.jsonl")) {
    const auto it = replay.references.find(r["question_id"].dump());
    if (it == replay.references.end()) continue;
    references_differ += r["choices"][0]["turns"][0] != it->second[0] || r["choices"][0]["turns"][1] != it->second[1];
  }
  EXPECT_EQ(differ, 77u);
  EXPECT_EQ(references_differ, 4u);
}

// The reference's decisions: every recorded score is a whole number from 6 to 10, and no square
// root of one (2.45 … 3.16) appears, so detector.py penalised no answer. keval's rule must agree
// on every one: code, JSON and formulas included. Questions 138 and 140 are exempt in both (their
// answers are data; 140's first is CSV in quotes, which keval too reads as not Korean).
TEST(KoMtBenchReference, TheLanguageRuleAgreesWithEveryRecordedDecision) {
  const auto& replay = komt_replay();
  const std::set<std::string> exempt = {"138", "140"};
  size_t agree = 0, korean = 0, json_answers = 0, no_letters = 0;
  for (const auto& [key, j] : replay.judgments) {
    ASSERT_EQ(j.score, std::floor(j.score)) << "a penalised score in the reference: " << key.first;
    const LanguageDecision d = detect_korean(replay.answers.at(key.first).at(static_cast<size_t>(key.second - 1)));
    const bool penalised = !exempt.count(key.first) && !d.korean;
    if (!penalised) ++agree;
    else ADD_FAILURE() << "question " << key.first << " turn " << key.second << " detected not Korean (Hangul share "
                       << d.share << ")";
    korean += d.korean;
    json_answers += d.why == "json";
    no_letters += d.why == "no_letters";
  }
  EXPECT_EQ(agree, 160u);   // docs/judge.md reports this agreement: 160 of 160 decisions
  EXPECT_EQ(korean, 159u);  // all but 140's CSV answer, which is exempt
  // Answers that are JSON documents: 89/2 (a quoted title), 131, 133/2, 135/1, 137, 138, 140/2.
  EXPECT_EQ(json_answers, 10u);
  EXPECT_EQ(no_letters, 0u);
}

// The questions, references and answers KoMT-Bench's judge saw, as keval's task files and data:
// a KEVAL_HOME holding the komt_bench task with the recorded wording.
void write_recorded_komt_home(const std::filesystem::path& home, const KoMtReplay& replay) {
  const std::string source = source_dir();
  std::filesystem::create_directories(home / "tasks" / "komt_bench");
  std::filesystem::create_directories(home / "datasets" / "komt_bench" / "reference_answer_ko");
  std::filesystem::copy_file(source + "/tasks/komt_bench/komt_bench.yaml", home / "tasks" / "komt_bench" / "komt_bench.yaml");
  std::filesystem::copy_file(source + "/datasets/komt_bench/judge_prompts_ko.jsonl",
                             home / "datasets" / "komt_bench" / "judge_prompts_ko.jsonl");
  std::string questions, references;
  for (auto q : read_jsonl(source + "/datasets/komt_bench/question_ko.jsonl")) {
    q["turns"] = replay.questions.at(q["question_id"].dump());
    questions += q.dump() + "\n";
  }
  for (auto r : read_jsonl(source + "/datasets/komt_bench/reference_answer_ko/gpt-4.jsonl")) {
    const auto it = replay.references.find(r["question_id"].dump());
    if (it != replay.references.end()) r["choices"][0]["turns"] = it->second;
    references += r.dump() + "\n";
  }
  write_file(home / "datasets" / "komt_bench" / "question_ko.jsonl", questions);
  write_file(home / "datasets" / "komt_bench" / "reference_answer_ko" / "gpt-4.jsonl", references);
}

TEST(KoMtBenchReference, KevalsJudgePromptsEqualTheRecordedOnes) {
  const auto& replay = komt_replay();
  ScratchDir home;
  write_recorded_komt_home(home.path(), replay);
  TaskRegistry registry(KevalPaths{home / "tasks", home / "datasets"});
  const TaskConfig* task = registry.find_task("komt_bench");
  ASSERT_TRUE(task && task->judge);
  const auto samples = registry.samples(*task, std::nullopt, std::nullopt);
  ASSERT_EQ(samples.size(), 80u);
  const auto protocol = make_judge_protocol(*task->judge, registry.judge_data(*task));
  std::map<std::string, json> prompts;
  for (const auto& p : read_jsonl(source_dir() + "/datasets/komt_bench/judge_prompts_ko.jsonl")) prompts[p["name"]] = p;
  size_t equal = 0;
  for (const auto& s : samples) {
    for (int turn = 0; turn < 2; ++turn) {
      const auto& recorded = replay.judgments.at({s.id, turn + 1});
      const auto messages = protocol->prompt(s, turn, replay.answers.at(s.id));
      ASSERT_EQ(messages.size(), 2u);
      EXPECT_EQ(messages[0].content, prompts.at(recorded.prompt_name)["system_prompt"]) << s.id << " turn " << turn + 1;
      EXPECT_EQ(messages[1].content, recorded.user_prompt) << s.id << " turn " << turn + 1;
      equal += messages[1].content == recorded.user_prompt;
      // The verdict reads back as the score FastChat recorded.
      EXPECT_EQ(protocol->rating(recorded.judgment), recorded.score) << s.id << " turn " << turn + 1;
    }
  }
  EXPECT_EQ(equal, 160u);
}

TEST(KoMtBenchReference, ReplayGivesShowResultsFiguresWithTheRecordedPrompts) {
  const auto& replay = komt_replay();
  ScratchDir dir;
  write_recorded_komt_home(dir / "home", replay);
  std::string answers, verdicts;
  for (const auto& [id, texts] : replay.answers) {
    answers += json({{"task", "komt_bench"}, {"id", id}, {"responses", texts}}).dump() + "\n";
    verdicts += json({{"task", "komt_bench"}, {"id", id},
                      {"judge", {replay.judgments.at({id, 1}).judgment, replay.judgments.at({id, 2}).judgment}}})
                    .dump() + "\n";
  }
  write_file(dir / "answers.jsonl", answers);
  write_file(dir / "verdicts.jsonl", verdicts);
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks komt_bench --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                         " --judge-backend replay --judge-responses " + shell_quote(dir / "verdicts.jsonl") +
                         " --name gpt4 --no-progress --db " + shell_quote(db),
                     "KEVAL_HOME=" + shell_quote(dir / "home") + " ");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto res = results_of(db, "gpt4");
  EXPECT_EQ(res["run"]["status"], "complete");
  ASSERT_TRUE(res.count("judge_score")) << r.out;
  // show_result.py prints First turn 9.6250, Second turn 9.6000, Average 9.6125.
  EXPECT_NEAR(res["judge_turn1"]["value"].get<double>(), 9.6250, 5e-5);
  EXPECT_NEAR(res["judge_turn2"]["value"].get<double>(), 9.6000, 5e-5);
  EXPECT_NEAR(res["judge_score"]["value"].get<double>(), 9.6125, 5e-5);
  EXPECT_EQ(fmt::format("{:.4f}", res["judge_score"]["value"].get<double>()), "9.6125");
  EXPECT_NEAR(res["judge_score_no_penalty"]["value"].get<double>(), 9.6125, 5e-5);
  EXPECT_EQ(res["judge_score"]["n"], 80);
  // What keval sent the judge is byte for byte what KoMT-Bench's judge was sent.
  size_t checked = 0;
  for (const auto& row : query(db, "SELECT sample_id, turn, request_json FROM judgements")) {
    const json request = json::parse(row[2]);
    EXPECT_EQ(request["messages"][1]["content"], replay.judgments.at({row[0], std::stoi(row[1]) + 1}).user_prompt)
        << row[0] << " turn " << row[1];
    EXPECT_EQ(request["temperature"], 0.0);
    ++checked;
  }
  EXPECT_EQ(checked, 160u);
}

// The answers are generated at MT-Bench's temperature for their category, unless --temperature.
TEST(KoMtBenchReference, AnswersAreSampledAtEachCategorysTemperature) {
  ScratchDir dir;
  std::string answers;
  for (int id = 81; id <= 160; ++id)
    answers += json({{"task", "komt_bench"}, {"id", std::to_string(id)}, {"responses", {"답변입니다.", "다시 답합니다."}}}).dump() + "\n";
  write_file(dir / "answers.jsonl", answers);
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks komt_bench --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --name by_category --no-progress --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::map<std::string, double> expected = {{"writing", 0.7}, {"roleplay", 0.7}, {"extraction", 0.0},
                                                   {"math", 0.0},    {"coding", 0.0},   {"reasoning", 0.0},
                                                   {"stem", 0.1},    {"humanities", 0.1}};
  std::map<std::string, json> category_of;
  for (const auto& q : read_jsonl(source_dir() + "/datasets/komt_bench/question_ko.jsonl"))
    category_of[q["question_id"].dump()] = q["category"];
  size_t seen = 0;
  for (const auto& row : query(db, "SELECT sample_id, request_json FROM responses")) {
    const json request = json::parse(row[1]);
    EXPECT_DOUBLE_EQ(request["temperature"].get<double>(), expected.at(category_of.at(row[0]).get<std::string>())) << row[0];
    ++seen;
  }
  EXPECT_EQ(seen, 160u);
  // The choice is part of the run's configuration.
  const auto config = json::parse(query(db, "SELECT config_json FROM runs WHERE name = 'by_category'").at(0).at(0));
  const json& temperature = config["tasks"][0]["temperature"];
  EXPECT_EQ(temperature["by_field"], "category");
  EXPECT_EQ(temperature["values"]["writing"], 0.7);
  EXPECT_EQ(temperature["values"]["stem"], 0.1);
  EXPECT_TRUE(temperature["replaced_by"].is_null());
  // --temperature replaces every category's, and the run says so.
  r = run_keval("run --tasks komt_bench --limit 2 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                " --temperature 0.3 --name replaced --no-progress --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto replaced = json::parse(query(db, "SELECT config_json FROM runs WHERE name = 'replaced'").at(0).at(0));
  EXPECT_EQ(replaced["tasks"][0]["temperature"]["replaced_by"], 0.3);
  EXPECT_EQ(replaced["backend"]["temperature"], 0.3);
}

// LogicKor: six verdicts of Qwen2-7B-Instruct's published judgements made unreadable, as
// evaluator.py records one it could not score (0.0, "Impossible to judge due to repetition.").
TEST(LogicKorReference, UnreadableVerdictsGiveScorePysFigures) {
  const std::string fixture = std::string(KEVAL_TEST_FIXTURES) + "/logickor/qwen2_7b_unreadable.jsonl";
  // The oracle: LogicKor's score.py (tests/logickor_score.py), run now.
  std::string oracle_out;
  {
    const std::string cmd = "python3 " + shell_quote(source_dir() + "/tests/logickor_score.py") + " " + shell_quote(fixture);
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) oracle_out.append(buffer, n);
    ASSERT_EQ(pclose(pipe), 0) << oracle_out;
  }
  const auto lines = text::split(std::string(text::trim(oracle_out)), '\n');
  const json oracle = json::parse(lines.back());

  const std::string impossible = "Impossible to judge due to repetition.";
  ScratchDir dir;
  std::string answers, verdicts;
  size_t samples_with_unreadable = 0;
  double rated_sum = 0;
  size_t rated = 0;
  for (const auto& row : read_jsonl(fixture)) {
    const std::string id = row["id"].dump();
    answers += json({{"task", "logickor"}, {"id", id}, {"responses", row["outputs"]}}).dump() + "\n";
    json judge = json::array();
    bool unreadable = false;
    for (const char* query_name : {"query_single", "query_multi"}) {
      const json& q = row[query_name];
      if (q["judge_message"] == impossible) {
        judge.push_back("평가: 답변이 질문과 무관한 내용을 반복하여 평가를 진행할 수 없습니다.");  // no 점수
        unreadable = true;
      } else {
        judge.push_back("평가: " + q["judge_message"].get<std::string>() + "\n점수: " + q["judge_score"].dump());
        rated_sum += q["judge_score"].get<double>();
        ++rated;
      }
    }
    samples_with_unreadable += unreadable;
    verdicts += json({{"task", "logickor"}, {"id", id}, {"judge", judge}}).dump() + "\n";
  }
  ASSERT_EQ(samples_with_unreadable, 5u);
  write_file(dir / "answers.jsonl", answers);
  write_file(dir / "verdicts.jsonl", verdicts);
  const std::string db = dir / "k.db";
  auto r = run_keval("run --tasks logickor --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                     " --judge-backend replay --judge-responses " + shell_quote(dir / "verdicts.jsonl") +
                     " --name unreadable --no-progress --db " + shell_quote(db));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto res = results_of(db, "unreadable");
  ASSERT_TRUE(res.count("judge_score")) << r.out;
  auto two = [](double v) { return fmt_two(v); };
  EXPECT_EQ(two(res["judge_single_turn"]["value"]), two(oracle["single"])) << oracle_out;
  EXPECT_EQ(two(res["judge_multi_turn"]["value"]), two(oracle["multi"])) << oracle_out;
  EXPECT_EQ(two(res["judge_score"]["value"]), two(oracle["overall"])) << oracle_out;
  EXPECT_NEAR(res["judge_score"]["value"].get<double>(), oracle["overall"].get<double>(), 1e-9);
  for (const auto& [category, figures] : oracle["categories"].items()) {
    EXPECT_EQ(two(res["judge_single_turn/" + category]["value"]), two(figures["single"])) << category;
    EXPECT_EQ(two(res["judge_multi_turn/" + category]["value"]), two(figures["multi"])) << category;
  }
  EXPECT_EQ(res["judge_score"]["n"], 42);
  EXPECT_EQ(res["judge_score"]["n_judge_failed"], 5);
  // The variant that leaves the unreadable verdicts out.
  EXPECT_NEAR(res["judge_score_rated"]["value"].get<double>(), rated_sum / static_cast<double>(rated), 1e-9);
  EXPECT_EQ(rated, 84u - 6u);
  // Each unreadable verdict was asked five times in all, as evaluator.py asks.
  for (const auto& row : query(db, "SELECT count(*) FROM judgements WHERE status = 'unparsed' GROUP BY sample_id, turn"))
    EXPECT_EQ(row[0], "5");
  EXPECT_EQ(query(db, "SELECT count(*) FROM judgements WHERE status = 'unparsed'").at(0).at(0), "30");
}

// LogicKor's generator puts a strategy's messages before the question on both turns, at
// temperature 0 with up to 4,096 new tokens; the three strategies are three tasks.
TEST(LogicKorReference, StrategiesAreSentBeforeTheQuestion) {
  const json strategies = json::parse(slurp(source_dir() + "/datasets/logickor/prompt_strategies.json"))["strategies"];
  const std::map<std::string, std::string> tasks = {
      {"logickor", "default"}, {"logickor_1shot", "1-shot"}, {"logickor_cot_1shot", "cot-1-shot"}};
  for (const auto& [task, strategy] : tasks) {
    const json before = strategies.at(strategy);
    auto r = run_keval("samples --task " + task + " --limit 1 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json sample = json::parse(text::split(r.out, '\n').front());
    json expected = before;
    expected.push_back({{"role", "user"}, {"content", sample["turns"][0]}});
    EXPECT_EQ(sample["messages"], expected) << task;

    ScratchDir dir;
    write_file(dir / "answers.jsonl",
               json({{"task", task}, {"id", "1"}, {"responses", {"첫 답변입니다.", "둘째 답변입니다."}}}).dump() + "\n");
    const std::string db = dir / "k.db";
    r = run_keval("run --tasks " + task + " --limit 1 --backend replay --responses " + shell_quote(dir / "answers.jsonl") +
                  " --name s --no-progress --db " + shell_quote(db));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = query(db, "SELECT turn, request_json FROM responses ORDER BY turn");
    ASSERT_EQ(rows.size(), 2u) << task;
    for (const auto& row : rows) {
      const json request = json::parse(row[1]);
      EXPECT_EQ(request["max_tokens"], 4096) << task;
      EXPECT_EQ(request["temperature"], 0.0) << task;
      const json& messages = request["messages"];
      ASSERT_EQ(messages.size(), before.size() + (row[0] == "0" ? 1 : 3)) << task;
      for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(messages[i], before[i]) << task << " turn " << row[0];
      EXPECT_EQ(messages[before.size()]["content"], sample["turns"][0]) << task;
    }
  }
}

TEST(LogicKorReference, AnUnknownStrategyIsAnInputErrorNamingTheTaskFile) {
  ScratchDir home;
  std::filesystem::create_directories(home.path() / "tasks" / "logickor");
  std::filesystem::create_directories(home.path() / "datasets" / "logickor");
  std::filesystem::copy_file(source_dir() + "/datasets/logickor/prompt_strategies.json",
                             home.path() / "datasets" / "logickor" / "prompt_strategies.json");
  std::filesystem::copy_file(source_dir() + "/tasks/logickor/_logickor.yaml", home.path() / "tasks" / "logickor" / "_logickor.yaml");
  write_file(home.path() / "tasks" / "logickor" / "logickor_2shot.yaml",
             "include: _logickor.yaml\ntask: logickor_2shot\n"
             "prompt_strategy: {file: logickor/prompt_strategies.json, name: 2-shot}\n");
  auto r = run_keval("tasks", "KEVAL_HOME=" + shell_quote(home.path().string()) + " ");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("logickor_2shot.yaml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("strategies.2-shot"), std::string::npos) << r.err;
}

} // namespace
} // namespace keval
