#include "delimited.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "error.h"

namespace keval {
namespace {

// A fresh directory under the system's temporary directory (honours TMPDIR).
std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
  return pattern;
}

using Cells = std::vector<std::string>;

TEST(DelimitedCsv, KoreanCellsWithQuotedCommasNewlinesAndQuotes) {
  const std::string csv =
      "id,premise,question,answer\n"
      "1,\"남자는 문을 열었다, 그리고 나갔다.\",원인,\"그가 말했다, \"\"엄마, 저 왔어요.\"\"\"\n"
      "2,\"첫 줄\n둘째 줄\n셋째 줄\",결과,아니오\n"
      "3,마지막 행,원인,예\n";
  const auto rows = parse_csv(csv, "data/copa.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_EQ(rows[0].cells, (Cells{"id", "premise", "question", "answer"}));
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_EQ(rows[1].cells,
            (Cells{"1", "남자는 문을 열었다, 그리고 나갔다.", "원인", "그가 말했다, \"엄마, 저 왔어요.\""}));
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_EQ(rows[2].cells, (Cells{"2", "첫 줄\n둘째 줄\n셋째 줄", "결과", "아니오"}));
  // The record after a three-line field starts on physical line 6.
  EXPECT_EQ(rows[3].line, 6u);
  EXPECT_EQ(rows[3].cells, (Cells{"3", "마지막 행", "원인", "예"}));
}

TEST(DelimitedCsv, CrlfLineEndsAndQuotedCrlfKept) {
  const std::string csv = "a,b\r\n\"줄\r\n바꿈\",x\r\n마지막,y";
  const auto rows = parse_csv(csv, "x.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cells, (Cells{"a", "b"}));
  EXPECT_EQ(rows[1].cells, (Cells{"줄\r\n바꿈", "x"}));
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_EQ(rows[2].cells, (Cells{"마지막", "y"}));
  EXPECT_EQ(rows[2].line, 4u);
}

TEST(DelimitedCsv, BomIsSkipped) {
  const auto rows = parse_csv("\xEF\xBB\xBFid,문장\n1,안녕하세요\n", "bom.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells, (Cells{"id", "문장"}));
  EXPECT_EQ(rows[1].cells, (Cells{"1", "안녕하세요"}));
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(DelimitedCsv, EmptyFieldsAndBlankLines) {
  const auto rows = parse_csv("a,,c\n\n\"\",x,\n,\n", "e.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cells, (Cells{"a", "", "c"}));
  EXPECT_EQ(rows[1].cells, (Cells{"", "x", ""}));
  EXPECT_EQ(rows[1].line, 3u); // the blank line 2 is skipped but still counted
  EXPECT_EQ(rows[2].cells, (Cells{"", ""}));
  EXPECT_EQ(rows[2].line, 4u);
}

TEST(DelimitedCsv, EmptyInputHasNoRows) {
  EXPECT_TRUE(parse_csv("", "e.csv").empty());
  EXPECT_TRUE(parse_csv("\xEF\xBB\xBF", "e.csv").empty());
}

TEST(DelimitedCsv, StrayQuotesInsideUnquotedFieldsAreText) {
  const auto rows = parse_csv("그가 \"예\"라고 했다,b\n\"ab\"cd,e\n", "s.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells, (Cells{"그가 \"예\"라고 했다", "b"}));
  EXPECT_EQ(rows[1].cells, (Cells{"abcd", "e"}));
}

TEST(DelimitedCsv, UnterminatedQuoteNamesFileAndLine) {
  const std::string csv = "id,text\n1,괜찮아요\n2,\"닫히지 않은\n따옴표,\n3,끝\n";
  try {
    parse_csv(csv, "datasets/broken.csv");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "datasets/broken.csv:3: unterminated quoted field");
  }
}

TEST(DelimitedCsv, UnterminatedQuoteLineAfterMultilineRecords) {
  const std::string csv = "\"a\nb\",c\r\nd,\"e";
  try {
    parse_csv(csv, "x.csv");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "x.csv:3: unterminated quoted field");
  }
}

TEST(DelimitedTsv, QuotesAreOrdinaryCharacters) {
  const std::string tsv =
      "sentence1\tsentence2\tgold_label\n"
      "그리고 그가 말했다, \"엄마, 저 왔어요.\"\t그는 학교 버스가 그를 내려주자마자 엄마에게 전화를 걸었다.\tneutral\n"
      "\"따옴표로 시작\t끝에 따옴표\"\tentailment\n";
  const auto rows = parse_tsv(tsv);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cells, (Cells{"sentence1", "sentence2", "gold_label"}));
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_EQ(rows[1].cells, (Cells{"그리고 그가 말했다, \"엄마, 저 왔어요.\"",
                                  "그는 학교 버스가 그를 내려주자마자 엄마에게 전화를 걸었다.", "neutral"}));
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_EQ(rows[2].cells, (Cells{"\"따옴표로 시작", "끝에 따옴표\"", "entailment"}));
}

TEST(DelimitedTsv, CrlfBomEmptyCellsAndTrailingLine) {
  const std::string tsv = "\xEF\xBB\xBFgenre\tscore\tsentence\r\nmain-news\t4.2\t\r\n\t\t끝\r\n";
  const auto rows = parse_tsv(tsv);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cells, (Cells{"genre", "score", "sentence"}));
  EXPECT_EQ(rows[1].cells, (Cells{"main-news", "4.2", ""}));
  EXPECT_EQ(rows[2].cells, (Cells{"", "", "끝"}));
  EXPECT_EQ(rows[2].line, 3u);
}

TEST(DelimitedTsv, NoTrailingNewlineAndBlankLines) {
  const auto rows = parse_tsv("a\tb\n\nc\td");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells, (Cells{"a", "b"}));
  EXPECT_EQ(rows[1].cells, (Cells{"c", "d"}));
  EXPECT_EQ(rows[1].line, 3u);
  EXPECT_TRUE(parse_tsv("").empty());
  EXPECT_TRUE(parse_tsv("\n").empty());
}

class DelimitedFile : public ::testing::Test {
protected:
  void SetUp() override {
    m_dir = make_temp_dir("keval_delimited_test_");
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::filesystem::path m_dir;
};

TEST_F(DelimitedFile, ReadFileReturnsExactBytes) {
  static const char k_raw[] = "한국어\r\n\0binary\xff"; // an embedded NUL and a non-UTF-8 byte
  const std::string content = std::string(k_raw, sizeof k_raw - 1) + std::string(100000, 'x');
  const std::string path = (m_dir / "data.tsv").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  EXPECT_EQ(read_file(path), content);
}

TEST_F(DelimitedFile, ReadFileMissingOrDirectory) {
  const std::string missing = (m_dir / "없음.csv").string();
  try {
    read_file(missing);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + missing + ": No such file or directory");
  }
  try {
    read_file(m_dir.string());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cannot read " + m_dir.string() + ": ", 0), 0u) << e.what();
  }
}

} // namespace
} // namespace keval
