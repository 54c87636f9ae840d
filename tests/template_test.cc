#include <gtest/gtest.h>

#include "template.h"
#include "error.h"

namespace keval {
namespace {

std::string render(const std::string& text, const nlohmann::json& row) {
  return Template::parse(text, "test").render([&](std::string_view name) { return json_path(row, name); });
}

TEST(Template, SubstitutesFieldsWithHangul) {
  nlohmann::json row = {{"sentence", "영화를 보고 눈물을 흘렸다."}, {"1", "슬픈 영화"}, {"n", 3}};
  EXPECT_EQ(render("{{sentence}} 왜냐하면 {{1}} ({{n}})", row), "영화를 보고 눈물을 흘렸다. 왜냐하면 슬픈 영화 (3)");
}

TEST(Template, FollowsNestedKeysAndListItems) {
  nlohmann::json row = {{"labels", {{"real-label", 4.5}}}, {"choices", {"가", "나"}}};
  EXPECT_EQ(render("{{labels.real-label}}/{{choices.1}}", row), "4.5/나");
}

TEST(Template, SectionsKeepTextOnlyWhenNonEmpty) {
  const std::string t = "{{#paragraph}}맥락: {{paragraph}}\n{{/paragraph}}{{^paragraph}}(맥락 없음)\n{{/paragraph}}질문: {{q}}";
  EXPECT_EQ(render(t, {{"paragraph", "지문"}, {"q", "무엇?"}}), "맥락: 지문\n질문: 무엇?");
  EXPECT_EQ(render(t, {{"paragraph", ""}, {"q", "무엇?"}}), "(맥락 없음)\n질문: 무엇?");
  EXPECT_EQ(render(t, {{"q", "무엇?"}}), "(맥락 없음)\n질문: 무엇?");
}

TEST(Template, UnknownFieldNamesTheTemplateAndField) {
  try {
    Template::parse("{{questoin}}", "tasks/x.yaml (prompt)").render([](std::string_view) { return nullptr; });
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tasks/x.yaml (prompt)"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("questoin"), std::string::npos);
  }
}

TEST(Template, RejectsUnbalancedSections) {
  EXPECT_THROW(Template::parse("{{#a}}x", "t"), InputError);
  EXPECT_THROW(Template::parse("x{{/a}}", "t"), InputError);
  EXPECT_THROW(Template::parse("{{a", "t"), InputError);
}

TEST(Template, IntegersPrintWithoutDecimals) {
  EXPECT_EQ(json_to_text(nlohmann::json(2.0)), "2");
  EXPECT_EQ(json_to_text(nlohmann::json(4.857)), "4.857");
  EXPECT_EQ(json_to_text(nlohmann::json(nullptr)), "");
}

} // namespace
} // namespace keval
