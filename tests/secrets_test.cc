// secrets: every remembered value leaves any text that passes through redact(), whatever its
// case, its JSON escaping or what surrounds it; short values and unrelated text are untouched.
#include <gtest/gtest.h>

#include <cstdlib>

#include "secrets.h"

namespace keval {
namespace {

class Secrets : public ::testing::Test {
protected:
  void SetUp() override { secrets::forget_all(); }
  void TearDown() override { secrets::forget_all(); }
};

TEST_F(Secrets, ValueGoesInAnyCaseAndSurrounding) {
  secrets::remember("sk-Live-AbC123/xyz");
  EXPECT_EQ(secrets::redact("Authorization: Bearer sk-Live-AbC123/xyz\n"), "Authorization: Bearer [REDACTED]\n");
  EXPECT_EQ(secrets::redact("AUTHORIZATION: BEARER SK-LIVE-ABC123/XYZ"), "AUTHORIZATION: BEARER [REDACTED]");
  EXPECT_EQ(secrets::redact("sk-live-abc123/xyzsk-live-abc123/xyz"), "[REDACTED]");  // adjacent copies merge
  EXPECT_EQ(secrets::redact("정답은 sk-live-abc123/xyz 입니다"), "정답은 [REDACTED] 입니다");
  EXPECT_EQ(secrets::redact("정답은 A입니다."), "정답은 A입니다.");  // nothing else changes
  EXPECT_EQ(secrets::redact(""), "");
}

TEST_F(Secrets, JsonEscapedFormsGoToo) {
  secrets::remember("tok/with\"quote");
  EXPECT_EQ(secrets::redact(R"({"error": "tok/with\"quote"})"), R"({"error": "[REDACTED]"})");
  EXPECT_EQ(secrets::redact(R"({"error": "tok\/with\"quote"})"), R"({"error": "[REDACTED]"})");
  EXPECT_EQ(secrets::redact("raw tok/with\"quote"), "raw [REDACTED]");
}

TEST_F(Secrets, NonAsciiValueAlsoAsUnicodeEscapes) {
  secrets::remember("sk-비밀-4242");
  EXPECT_EQ(secrets::redact("key sk-비밀-4242."), "key [REDACTED].");
  EXPECT_EQ(secrets::redact(R"({"echo": "sk-\ube44\ubc00-4242"})"), R"({"echo": "[REDACTED]"})");
  EXPECT_EQ(secrets::redact(R"({"echo": "SK-\UBE44\UBC00-4242"})"), R"({"echo": "[REDACTED]"})");
}

TEST_F(Secrets, HeaderValueAndItsCredential) {
  secrets::remember_header("Authorization: Bearer abcdef123456");
  EXPECT_EQ(secrets::redact("Bearer abcdef123456"), "[REDACTED]");
  EXPECT_EQ(secrets::redact("token=abcdef123456;"), "token=[REDACTED];");
  EXPECT_EQ(secrets::redact("a bearer token is expected"), "a bearer token is expected");  // the scheme alone is no secret
  secrets::remember_header("X-Api-Key:key-9876543");
  EXPECT_EQ(secrets::redact("X-API-KEY: KEY-9876543"), "X-API-KEY: [REDACTED]");
}

TEST_F(Secrets, ShortValuesAreNotMasked) {
  secrets::remember("abc");
  secrets::remember_header("X-Flag: 1");
  EXPECT_EQ(secrets::redact("abc 1 abc"), "abc 1 abc");
}

TEST_F(Secrets, OverlappingValuesBothGo) {
  secrets::remember("secret-one-two");
  secrets::remember("two-three-four");
  EXPECT_EQ(secrets::redact("x secret-one-two-three-four y"), "x [REDACTED] y");
}

TEST_F(Secrets, EnvironmentKeysAndResponses) {
  ::setenv("KEVAL_JUDGE_API_KEY", "judge-key-5555", 1);
  secrets::remember_environment();
  ::unsetenv("KEVAL_JUDGE_API_KEY");
  Response r;
  r.text = "echo: JUDGE-KEY-5555";
  r.message = "bearer judge-key-5555";
  secrets::redact(r);
  EXPECT_EQ(r.text, "echo: [REDACTED]");
  EXPECT_EQ(r.message, "bearer [REDACTED]");
}

} // namespace
} // namespace keval
